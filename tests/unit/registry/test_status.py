from datetime import datetime, timedelta

from registry_samples import CLUSTER_INI

from pylm.registry.config import NodeSpec, parse_cluster
from pylm.registry.planner import Placement, plan
from pylm.registry.status import node_state, status_view
from pylm.registry.store import ClusterInfo

NOW = datetime(2026, 12, 4, 15, 0, 0)


def cluster_with(*nodes):
    placement = Placement()
    for node in nodes:
        _, placement = plan(parse_cluster(CLUSTER_INI), node, placement)
    return ClusterInfo(1, "k", True, "alias", 1, CLUSTER_INI, placement, None, NOW)


def test_node_state_expires_after_lost_after():
    assert node_state(NOW - timedelta(seconds=14), NOW, 15.0) == "live"
    assert node_state(NOW - timedelta(seconds=16), NOW, 15.0) == "lost"


def test_status_counts_and_states():
    cluster = cluster_with(NodeSpec("a", "127.0.0.1", 2, 5555),
                           NodeSpec("b", "127.0.0.2", 1, 5555))
    nodes = [{"name": "a", "ip": "127.0.0.1", "last_heartbeat": NOW},
             {"name": "b", "ip": "127.0.0.2", "last_heartbeat": NOW - timedelta(minutes=5)}]
    states = {"Valuation Master.0": {"state": "running", "pid": 9, "restarts": 2,
                                     "last_exit": 1, "started_at": "t"}}
    view = status_view(cluster, nodes, states, 15.0, NOW)
    assert view["ready"] is True
    assert view["services"]["Valuation Worker"] == {"placed": 2, "needed": 2, "role": "Worker"}
    by = {i["instance"]: i for i in view["instances"]}
    assert by["Valuation Master.0"]["state"] == "running" and by["Valuation Master.0"]["pid"] == 9
    assert by["Valuation Worker.0"]["state"] == "placed"
    assert by["Valuation Worker.1"]["state"] == "lost" and by["Valuation Worker.1"]["node"] == "b"
    assert [n["state"] for n in view["nodes"]] == ["live", "lost"]
    assert view["highest_ports"] == {"127.0.0.1": 5559}
