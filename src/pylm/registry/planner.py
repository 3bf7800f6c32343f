"""Placement of service instances on nodes (spec §2): a pure function.

``plan(config, node, placement)`` takes the cluster configuration, the description of the
node that asks, and the current placement, and answers the instances that node must run and
the new placement. It never touches a database; the store serialises calls per cluster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pylm.registry.config import ClusterConfig, NodeSpec, Restart

__all__ = ["Placement", "PlacedInstance", "PlacementError", "fresh_name", "plan"]

MAX_PORT = 65535


class PlacementError(ValueError):
    """The node cannot be served (e.g. no free port left on its IP)."""


@dataclass(frozen=True)
class PlacedInstance:
    service: str
    replica: int
    node: str
    ip: str
    parts: tuple[str, ...]
    restart: Restart = Restart.ALWAYS

    @property
    def instance(self) -> str:
        return f"{self.service}.{self.replica}"

    @property
    def command(self) -> str:
        return " ".join(self.parts)

    def to_dict(self) -> dict[str, Any]:
        return {"service": self.service, "replica": self.replica, "node": self.node,
                "ip": self.ip, "parts": list(self.parts), "restart": self.restart.value}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlacedInstance:
        return cls(data["service"], int(data["replica"]), data["node"], data["ip"],
                   tuple(data["parts"]), Restart(data.get("restart", Restart.ALWAYS.value)))


@dataclass(frozen=True)
class Placement:
    """Who runs what: addresses of placeholders, highest port used per IP, instances, nodes."""

    sockets: Mapping[str, str] = field(default_factory=dict)
    highest_ports: Mapping[str, int] = field(default_factory=dict)
    instances: tuple[PlacedInstance, ...] = ()
    nodes: Mapping[str, NodeSpec] = field(default_factory=dict)

    def placed(self, service: str) -> int:
        return sum(1 for i in self.instances if i.service == service)

    def on_node(self, node: str) -> tuple[PlacedInstance, ...]:
        return tuple(i for i in self.instances if i.node == node)

    def ready(self, config: ClusterConfig) -> bool:
        return all(self.placed(s.name) >= s.replicas for s in config.services)

    def to_dict(self) -> dict[str, Any]:
        return {
            "sockets": dict(self.sockets),
            "highest_ports": dict(self.highest_ports),
            "instances": [i.to_dict() for i in self.instances],
            "nodes": {name: [n.ip, n.processors, n.ports_from] for name, n in self.nodes.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> Placement:
        if not data:
            return cls()
        return cls(
            dict(data.get("sockets", {})),
            {ip: int(port) for ip, port in data.get("highest_ports", {}).items()},
            tuple(PlacedInstance.from_dict(i) for i in data.get("instances", [])),
            {name: NodeSpec(name, v[0], int(v[1]), int(v[2]))
             for name, v in data.get("nodes", {}).items()},
        )


def plan(
    config: ClusterConfig, node: NodeSpec, placement: Placement
) -> tuple[tuple[PlacedInstance, ...], Placement]:
    """Instances for ``node`` and the placement after it joined.

    A node that already asked (same name) gets the same instances and nothing changes.
    Processors are filled in dependency order, instance by instance, until every service
    has its replicas or the node is full. Each placeholder not yet bound gets the next free
    port on the node's IP, never below ``node.ports_from`` and never one already handed out.
    """
    if node.name in placement.nodes:
        return placement.on_node(node.name), placement

    sockets = dict(placement.sockets)
    highest = dict(placement.highest_ports)
    counts = {s.name: placement.placed(s.name) for s in config.services}
    next_port = max(highest.get(node.ip, 0) + 1, node.ports_from)
    new: list[PlacedInstance] = []

    for _ in range(node.processors):
        service = next((s for s in config.services if counts[s.name] < s.replicas), None)
        if service is None:
            break
        for placeholder in service.placeholders:
            if placeholder not in sockets:
                if next_port > MAX_PORT:
                    raise PlacementError(f"no free port left on {node.ip}")
                sockets[placeholder] = f"tcp://{node.ip}:{next_port}"
                highest[node.ip] = next_port
                next_port += 1
        parts = [service.script]
        for flag in service.flags:
            value = sockets[flag.value] if flag.placeholder else flag.value
            parts.append(f"{flag.name} {value}")
        new.append(PlacedInstance(service.name, counts[service.name], node.name, node.ip,
                                  tuple(parts), service.restart))
        counts[service.name] += 1

    after = Placement(sockets, highest, placement.instances + tuple(new),
                      {**placement.nodes, node.name: node})
    return tuple(new), after


def fresh_name(placement: Placement, name: str) -> str:
    """``name``, or ``name #2``, ``name #3``... if a node of that name already joined.

    The original registry placed anew on every request, and its runner names every node
    without a node file "My Worker": legacy joins are therefore never answered from an
    earlier join of the same name.
    """
    if name not in placement.nodes:
        return name
    n = 2
    while f"{name} #{n}" in placement.nodes:
        n += 1
    return f"{name} #{n}"
