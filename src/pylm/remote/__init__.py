"""HTTP workers: PALM functions served over HTTP by any WSGI server (spec §5)."""

from pylm.remote.server import DebugServer, RequestHandler, WSGIApplication

__all__ = ["RequestHandler", "WSGIApplication", "DebugServer"]
