"""The runner: the agent that runs a cluster's components on one machine.

It joins a cluster in the registry, launches the commands the registry placed on its
node, supervises them (restart policy, backoff, crash loops), and ships every line they
print to the registry through an on-disk spool, so that nothing is lost while the registry
is away. See docs/runner.md and docs/runner-protocol.md.
"""

from .agent import Agent, AgentSettings, RunnerFailure
from .client import InstanceSpec, JoinAnswer, RegistryClient
from .events import Event, EventKind, InstanceState, RestartPolicy
from .node import NodeDescription, NodeFileError, load_node_file, parse_node_text
from .shipper import Shipper, ShipperSettings
from .spool import Spool, SpoolError
from .supervisor import BackoffPolicy, Supervisor

__all__ = [
    "Agent",
    "AgentSettings",
    "BackoffPolicy",
    "Event",
    "EventKind",
    "InstanceSpec",
    "InstanceState",
    "JoinAnswer",
    "NodeDescription",
    "NodeFileError",
    "RegistryClient",
    "RestartPolicy",
    "RunnerFailure",
    "Shipper",
    "ShipperSettings",
    "Spool",
    "SpoolError",
    "Supervisor",
    "load_node_file",
    "parse_node_text",
]
