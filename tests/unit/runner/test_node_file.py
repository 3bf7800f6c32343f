from pathlib import Path

import pytest

from pylm.runner.node import NodeDescription, NodeFileError, load_node_file, parse_node_text


def test_full_node_file_is_parsed():
    node = parse_node_text("[DEFAULT]\nName = node-a\nIp = 10.0.0.5\nProcessors = 8\n"
                           "Ports_from = 6000\n")
    assert node == NodeDescription(name="node-a", ip="10.0.0.5", processors=8, ports_from=6000)


def test_keys_are_case_insensitive_and_default():
    node = parse_node_text("[DEFAULT]\nPROCESSORS = 2\n")
    assert node == NodeDescription(name=None, ip="127.0.0.1", processors=2, ports_from=5555)


def test_join_body_needs_a_name():
    with pytest.raises(ValueError, match="name"):
        NodeDescription().to_json()
    assert NodeDescription().named("n").to_json() == {
        "name": "n", "ip": "127.0.0.1", "processors": 1, "ports_from": 5555}


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("[DEFAULT]\nProcessors = many\n", ["Processors", "many"]),
        ("[DEFAULT]\nProcessors = 0\n", ["Processors", "0"]),
        ("[DEFAULT]\nPorts_from = 70000\n", ["Ports_from", "70000"]),
        ("[DEFAULT]\nIp = not-an-ip\n", ["Ip", "not-an-ip"]),
        ("[DEFAULT]\nCores = 2\n", ["cores"]),
        ("[DEFAULT]\nName =\n", ["Name"]),
        ("Processors = 2\n", ["not valid INI"]),
        ("[node]\nProcessors = 2\n", ["[node]", "DEFAULT"]),
    ],
)
def test_bad_node_text_names_the_key(text, names):
    with pytest.raises(NodeFileError) as caught:
        parse_node_text(text, origin="n.ini")
    message = str(caught.value)
    assert message.startswith("n.ini")
    for name in names:
        assert name in message


def test_missing_file_is_a_clear_error(tmp_path: Path):
    with pytest.raises(NodeFileError, match="no such file"):
        load_node_file(tmp_path / "absent.ini")


def test_file_is_read(tmp_path: Path):
    path = tmp_path / "node.ini"
    path.write_text("[DEFAULT]\nName = b\nIp = 127.0.0.2\n")
    assert load_node_file(path).ip == "127.0.0.2"
