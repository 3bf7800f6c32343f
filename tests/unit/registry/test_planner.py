from hypothesis import given, settings
from hypothesis import strategies as st
from registry_samples import CLUSTER_INI

from pylm.registry.config import ClusterConfig, NodeSpec, parse_cluster
from pylm.registry.planner import Placement, fresh_name, plan

WORKED = CLUSTER_INI  # the spec's example with Replicas = 2 for the worker


def test_one_node_three_processors_runs_master_and_two_workers():
    config = parse_cluster(WORKED)
    placed, after = plan(config, NodeSpec("n", "127.0.0.1", 3, 5555), Placement())
    assert [p.command for p in placed] == [
        "python3 valuation_master.py --pull tcp://127.0.0.1:5555 --pub tcp://127.0.0.1:5556 "
        "--workerpull tcp://127.0.0.1:5557 --workerpush tcp://127.0.0.1:5558 "
        "--db tcp://127.0.0.1:5559",
        "python3 valuation_worker.py --db tcp://127.0.0.1:5559",
        "python3 valuation_worker.py --db tcp://127.0.0.1:5559",
    ]
    assert after.ready(config)
    assert after.highest_ports == {"127.0.0.1": 5559}


def test_master_on_first_node_workers_on_second():
    config = parse_cluster(WORKED)
    a, p1 = plan(config, NodeSpec("A", "127.0.0.1", 1, 5555), Placement())
    assert [x.service for x in a] == ["Valuation Master"]
    assert "--db tcp://127.0.0.1:5559" in a[0].command
    assert not p1.ready(config)
    b, p2 = plan(config, NodeSpec("B", "127.0.0.2", 2, 5555), p1)
    assert [x.command for x in b] == ["python3 valuation_worker.py --db tcp://127.0.0.1:5559"] * 2
    assert [x.instance for x in b] == ["Valuation Worker.0", "Valuation Worker.1"]
    assert p2.ready(config)


def test_node_joining_when_nothing_left_gets_nothing():
    config = parse_cluster(WORKED)
    _, full = plan(config, NodeSpec("A", "127.0.0.1", 3, 5555), Placement())
    extra, after = plan(config, NodeSpec("C", "127.0.0.3", 4, 5555), full)
    assert extra == ()
    assert after.instances == full.instances


def test_placement_round_trips_through_json_form():
    config = parse_cluster(WORKED)
    _, p = plan(config, NodeSpec("A", "127.0.0.1", 2, 5555), Placement())
    assert Placement.from_dict(p.to_dict()) == p


@st.composite
def clusters(draw):
    n = draw(st.integers(1, 5))
    lines = []
    placeholders = [f"_{i}" for i in range(1, 7)]
    for i in range(n):
        lines.append(f"[S{i}]\nScript = run{i}")
        for j, ph in enumerate(draw(st.lists(st.sampled_from(placeholders), max_size=3))):
            lines.append(f"--f{j} = {ph}")
        deps = draw(st.lists(st.integers(0, i - 1), max_size=2, unique=True)) if i else []
        if deps:
            lines.append("Connected = " + ", ".join(f"S{d}" for d in deps))
        lines.append(f"Replicas = {draw(st.integers(1, 4))}")
    return parse_cluster("\n".join(lines) + "\n")


nodes = st.lists(
    st.tuples(st.sampled_from(["10.0.0.1", "10.0.0.2", "10.0.0.3"]), st.integers(1, 4),
              st.integers(1000, 1010)),
    min_size=1, max_size=12)


def run_all(config: ClusterConfig, specs) -> Placement:
    placement = Placement()
    for k, (ip, procs, start) in enumerate(specs):
        _, placement = plan(config, NodeSpec(f"n{k}", ip, procs, start), placement)
    return placement


@settings(max_examples=200, deadline=None)
@given(clusters(), nodes)
def test_replica_counts_are_exact_and_never_exceeded(config, specs):
    placement = run_all(config, specs)
    capacity = sum(p for _, p, _ in specs)
    for s in config.services:
        assert placement.placed(s.name) <= s.replicas
        assert sorted(i.replica for i in placement.instances if i.service == s.name) == list(
            range(placement.placed(s.name)))
    assert len(placement.instances) == min(capacity, config.instances_needed)
    assert placement.ready(config) == (capacity >= config.instances_needed)


@settings(max_examples=200, deadline=None)
@given(clusters(), nodes)
def test_no_port_is_handed_out_twice_on_one_ip(config, specs):
    placement = run_all(config, specs)
    addresses = list(placement.sockets.values())
    assert len(addresses) == len(set(addresses))
    for address in addresses:
        ip, port = address.removeprefix("tcp://").rsplit(":", 1)
        assert int(port) <= placement.highest_ports[ip]
    for k, (ip, _, _start) in enumerate(specs):
        for inst in placement.on_node(f"n{k}"):
            for ph in config.service(inst.service).placeholders:
                host, port = placement.sockets[ph].removeprefix("tcp://").rsplit(":", 1)
                if host == ip:
                    assert int(port) >= 1000


@settings(max_examples=200, deadline=None)
@given(clusters(), nodes)
def test_dependencies_are_placed_first(config, specs):
    placement = run_all(config, specs)
    order = [i.service for i in placement.instances]
    for s in config.services:
        if s.name in order:
            first = order.index(s.name)
            for dep in s.connected:
                needed = config.service(dep).replicas
                assert order[:first].count(dep) == needed


@settings(max_examples=100, deadline=None)
@given(clusters(), nodes, st.data())
def test_asking_again_with_the_same_name_is_idempotent(config, specs, data):
    placement = run_all(config, specs)
    k = data.draw(st.integers(0, len(specs) - 1))
    ip, procs, start = specs[k]
    again, after = plan(config, NodeSpec(f"n{k}", ip, procs, start), placement)
    assert after == placement
    assert again == placement.on_node(f"n{k}")


def test_fresh_name_never_reuses_a_joined_name():
    config = parse_cluster(WORKED)
    _, p = plan(config, NodeSpec("w", "127.0.0.1", 1, 5555), Placement())
    assert fresh_name(p, "other") == "other"
    assert fresh_name(p, "w") == "w #2"
    _, p = plan(config, NodeSpec("w #2", "127.0.0.1", 1, 5555), p)
    assert fresh_name(p, "w") == "w #3"
