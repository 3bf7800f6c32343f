"""The high-level servers (spec §3). Import path kept from the original pylm."""

from pylm.components.hub import Hub
from pylm.components.master import BaseMaster, Master
from pylm.components.pipeline import Pipeline
from pylm.components.server import Server
from pylm.components.sink import Sink
from pylm.components.worker import MuxWorker, Worker

__all__ = ["Server", "Master", "BaseMaster", "Hub", "Worker", "MuxWorker", "Pipeline", "Sink"]
