"""The pylm registry: cluster configurations, placement, status, logs and users over HTTP."""

from pylm.registry.app import AppSettings, create_app
from pylm.registry.store import Store

__all__ = ["AppSettings", "Store", "create_app"]
