from pathlib import Path

import pytest

from pylm.runner.agent import default_spool_dir
from pylm.runner.cli import build_parser, main, settings_from_args
from pylm.runner.node import NodeDescription, NodeFileError


def _settings(*argv: str):
    return settings_from_args(build_parser().parse_args(list(argv)))


def test_defaults_one_processor_on_loopback_and_cluster_key_as_token():
    settings = _settings("--registry", "127.0.0.1:8080", "--cluster", "K")
    assert settings.node == NodeDescription()
    assert settings.registry == "http://127.0.0.1:8080"
    assert settings.token == "K"
    assert settings.spool_dir == default_spool_dir("http://127.0.0.1:8080", "K")
    assert settings.echo is True


def test_options_reach_the_settings(tmp_path: Path):
    node = tmp_path / "node.ini"
    node.write_text("[DEFAULT]\nName = from-file\nProcessors = 3\n")
    settings = _settings("--registry", "http://r", "--cluster", "K", "--config", str(node),
                         "--name", "from-cli", "--key", "USER", "--spool", str(tmp_path),
                         "--quiet", "--backoff-initial", "0.5", "--crashloop-after", "5")
    assert settings.node == NodeDescription(name="from-cli", processors=3)
    assert settings.token == "USER"
    assert settings.spool_dir == tmp_path
    assert settings.echo is False
    assert settings.backoff.initial == 0.5 and settings.backoff.crashloop_after == 5


def test_spool_default_depends_on_registry_and_cluster_but_hides_the_key():
    one = default_spool_dir("http://a", "secret-key")
    assert one != default_spool_dir("http://b", "secret-key")
    assert one != default_spool_dir("http://a", "other")
    assert "secret-key" not in str(one)


@pytest.mark.parametrize("argv", [["--name", "a/b"], ["--name", " "],
                                  ["--crashloop-after", "0"], ["--batch-lines", "0"]])
def test_bad_options_are_clear_errors(argv):
    with pytest.raises(ValueError):
        _settings("--registry", "http://r", "--cluster", "K", *argv)


def test_bad_node_file_exits_2_naming_the_key(tmp_path: Path, capsys):
    node = tmp_path / "node.ini"
    node.write_text("[DEFAULT]\nPorts_from = many\n")
    with pytest.raises(NodeFileError):
        _settings("--registry", "http://r", "--cluster", "K", "--config", str(node))
    assert main(["--registry", "http://r", "--cluster", "K", "--config", str(node)]) == 2
    assert f"{node}: [DEFAULT] Ports_from = 'many' is not a whole number" in (
        capsys.readouterr().err)


def test_a_runner_started_with_stdout_closed_does_not_echo(monkeypatch):
    from pylm.runner.agent import Agent

    monkeypatch.setattr("sys.stdout", None)
    agent = Agent(_settings("--registry", "http://r", "--cluster", "K"))
    assert agent._echo._thread is None  # no echo thread, and no crash


def test_cluster_gone_is_said_once_whoever_notices(caplog):
    """Regression: the message came only from the heartbeat; a shipper 404 said nothing."""
    import logging

    from pylm.runner.agent import Agent

    agent = Agent(_settings("--registry", "http://r", "--cluster", "K", "--quiet"))
    with caplog.at_level(logging.WARNING, logger="pylm.runner"):
        agent._on_cluster_gone()  # e.g. from the shipper
        agent._on_cluster_gone()  # then from the heartbeat
    assert caplog.text.count("no longer exists") == 1
    assert agent._stop.is_set()
