"""The high-level servers (spec §3). Import path kept from the original pylm."""

from pylm.components.master import BaseMaster, Master
from pylm.components.server import Server
from pylm.components.worker import MuxWorker, Worker

__all__ = ["Server", "Master", "BaseMaster", "Worker", "MuxWorker"]
