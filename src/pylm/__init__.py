"""pylm: clusters of high-performance components over ZeroMQ (the PALM framework).

The high-level API lives in :mod:`pylm.servers` and :mod:`pylm.clients`, the low-level
API in :mod:`pylm.parts`. Importing ``pylm`` itself is cheap: nothing heavy is loaded.
"""

__version__ = "1.0.0.dev0"
__all__ = ["__version__"]
