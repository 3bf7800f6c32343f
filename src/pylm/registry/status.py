"""The status of a cluster (spec §3), as the JSON API and the dashboard show it. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pylm.registry.bodies import iso_time
from pylm.registry.runner_api import instance_json
from pylm.registry.store import ClusterInfo

__all__ = ["NODE_LIVE", "NODE_LOST", "node_state", "status_view"]

NODE_LIVE = "live"
NODE_LOST = "lost"
NOT_REPORTED = "placed"


def node_state(last_heartbeat: datetime, now: datetime, lost_after: float) -> str:
    """``lost`` after ``lost_after`` seconds without a heartbeat (or a join), else ``live``."""
    return NODE_LOST if (now - last_heartbeat).total_seconds() > lost_after else NODE_LIVE


def status_view(cluster: ClusterInfo, node_rows: list[dict[str, Any]],
                state_rows: dict[str, dict[str, Any]], lost_after: float,
                now: datetime) -> dict[str, Any]:
    """Sockets, highest ports, services placed/needed, instances with their latest reported
    state (``placed`` until a runner reports, ``lost`` with their node), nodes live/lost."""
    config, placement = cluster.config, cluster.placement
    lost = {n["name"] for n in node_rows
            if node_state(n["last_heartbeat"], now, lost_after) == NODE_LOST}
    instances = []
    for inst in placement.instances:
        state = state_rows.get(inst.instance, {})
        instances.append({
            **instance_json(inst), "node": inst.node,
            "state": NODE_LOST if inst.node in lost else state.get("state", NOT_REPORTED),
            "restarts": state.get("restarts", 0), "last_exit": state.get("last_exit"),
            "started_at": state.get("started_at"), "pid": state.get("pid")})
    ips = {n["name"]: n["ip"] for n in node_rows}
    ips.update({name: spec.ip for name, spec in placement.nodes.items()})
    return {
        "key": cluster.key, "alias": cluster.alias, "ready": placement.ready(config),
        "sockets": dict(placement.sockets), "highest_ports": dict(placement.highest_ports),
        "services": {s.name: {"placed": placement.placed(s.name), "needed": s.replicas,
                              "role": s.role} for s in config.services},
        "instances": instances,
        "nodes": [{"name": n["name"], "ip": ips.get(n["name"], n["ip"]),
                   "last_heartbeat": iso_time(n["last_heartbeat"]),
                   "state": NODE_LOST if n["name"] in lost else NODE_LIVE} for n in node_rows],
    }
