import pytest
from registry_samples import CLUSTER_INI

from pylm.registry.config import ConfigError, Restart, parse_cluster, parse_node

EXAMPLE = CLUSTER_INI.replace("Replicas = 2", "Replicas = 62")  # spec §1, word for word


def test_example_parses_into_services_in_dependency_order():
    config = parse_cluster(EXAMPLE)
    master, worker = config.services
    assert master.name == "Valuation Master"
    assert master.placeholders == ("_1", "_2", "_3", "_4", "_5")
    assert master.replicas == 1 and master.role == "Master"
    assert worker.replicas == 62 and worker.role == "Worker"
    assert worker.connected == ("Valuation Master",)
    assert worker.restart is Restart.ALWAYS
    assert config.instances_needed == 63


def test_dependency_order_does_not_depend_on_file_order():
    text = "[B]\nScript = b\nConnected = A\n[A]\nScript = a\n"
    assert [s.name for s in parse_cluster(text).services] == ["A", "B"]


def test_keys_are_case_insensitive():
    config = parse_cluster("[A]\nSCRIPT = a\nREPLICAS = 3\nrestart = On-Failure\nROLE = R\n")
    (a,) = config.services
    assert (a.script, a.replicas, a.restart, a.role) == ("a", 3, Restart.ON_FAILURE, "R")


def test_passthrough_flag_keeps_its_value():
    (a,) = parse_cluster("[A]\nScript = a\n--name = foo\n--x = _1\n").services
    assert [(f.name, f.value, f.placeholder) for f in a.flags] == [
        ("--name", "foo", False), ("--x", "_1", True)]


@pytest.mark.parametrize(
    ("text", "section", "key"),
    [
        ("[A]\nScript = a\n[A]\nScript = b\n", "A", None),
        ("no header\n", None, None),
        ("[A]\nScript = a\nthis line is not a key\n", None, None),
        ("[A]\nRole = x\n", "A", "Script"),
        ("[A]\nScript = a\nConnected = Nope\n", "A", "Connected"),
        ("[A]\nScript = a\nConnected = B\n[B]\nScript = b\nConnected = A\n", "A", "Connected"),
        ("[A]\nScript = a\nConnected = A\n", "A", "Connected"),
        ("[A]\nScript = a\nReplicas = 0\n", "A", "Replicas"),
        ("[A]\nScript = a\nReplicas = -2\n", "A", "Replicas"),
        ("[A]\nScript = a\nReplicas = many\n", "A", "Replicas"),
        ("[A]\nScript = a\nRestart = sometimes\n", "A", "Restart"),
        ("[A]\nScript = a\nscript = b\n", "A", "script"),
        ("", None, None),
    ],
)
def test_bad_cluster_files_are_refused_naming_section_and_key(text, section, key):
    with pytest.raises(ConfigError) as info:
        parse_cluster(text)
    assert info.value.section == section
    if key is not None:
        assert info.value.key == key
        assert key in str(info.value)
    if section is not None:
        assert f"[{section}]" in str(info.value)


def test_node_file_parses():
    text = "[DEFAULT]\nName = node-a\nIp = 10.0.0.5\nProcessors = 8\nPorts_from = 5555\n"
    node = parse_node(text)
    assert (node.name, node.ip, node.processors, node.ports_from) == ("node-a", "10.0.0.5", 8, 5555)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("[DEFAULT]\nIp = 1.2.3.4\nProcessors = 1\nPorts_from = 1\n", "Name"),
        ("[DEFAULT]\nName = a\nProcessors = 1\nPorts_from = 1\n", "Ip"),
        ("[DEFAULT]\nName = a\nIp = nowhere\nProcessors = 1\nPorts_from = 1\n", "Ip"),
        ("[DEFAULT]\nName = a\nIp = 1.2.3.4\nPorts_from = 1\n", "Processors"),
        ("[DEFAULT]\nName = a\nIp = 1.2.3.4\nProcessors = 0\nPorts_from = 1\n", "Processors"),
        ("[DEFAULT]\nName = a\nIp = 1.2.3.4\nProcessors = 1\nPorts_from = 70000\n", "Ports_from"),
        ("[DEFAULT]\nName = a\nIp = 1.2.3.4\nProcessors = x\nPorts_from = 1\n", "Processors"),
    ],
)
def test_bad_node_files_are_refused_naming_the_key(text, key):
    with pytest.raises(ConfigError) as info:
        parse_node(text)
    assert info.value.key == key and info.value.section == "DEFAULT"
