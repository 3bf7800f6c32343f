"""Cluster and node configuration files (INI), parsed once into frozen dataclasses.

A cluster file has one section per service (spec §1); a node file describes one machine in
its ``[DEFAULT]`` section (spec §2). Keys are case-insensitive. Every refusal is a
:class:`ConfigError` that names the section and the key.
"""

from __future__ import annotations

import configparser
import ipaddress
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "ClusterConfig",
    "ConfigError",
    "Flag",
    "NodeSpec",
    "Restart",
    "Service",
    "parse_cluster",
    "node_from_fields",
    "parse_node",
]

DEFAULT_ROLE = "Master"
DEFAULT_REPLICAS = 1
MAX_REPLICAS = 100_000
MAX_PROCESSORS = 100_000
PLACEHOLDER_PREFIX = "_"
FLAG_PREFIX = "-"


class Restart(StrEnum):
    """What the runner does when a component exits."""

    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    NEVER = "never"


class ConfigError(ValueError):
    """A configuration that is refused; ``section`` and ``key`` say where."""

    def __init__(self, message: str, section: str | None = None, key: str | None = None):
        self.section = section
        self.key = key
        self.reason = message
        where = []
        if section is not None:
            where.append(f"section [{section}]")
        if key is not None:
            where.append(f"key {key!r}")
        super().__init__(f"{', '.join(where)}: {message}" if where else message)


@dataclass(frozen=True)
class Flag:
    """A command-line flag; ``placeholder`` when its value is an address like ``_1``."""

    name: str
    value: str

    @property
    def placeholder(self) -> bool:
        return self.value.startswith(PLACEHOLDER_PREFIX)


@dataclass(frozen=True)
class Service:
    name: str
    script: str
    flags: tuple[Flag, ...]
    connected: tuple[str, ...]
    role: str
    replicas: int
    restart: Restart
    replicas_given: bool = False

    @property
    def placeholders(self) -> tuple[str, ...]:
        """The address placeholders this service uses, in file order, without repeats."""
        seen: dict[str, None] = {}
        for flag in self.flags:
            if flag.placeholder:
                seen.setdefault(flag.value, None)
        return tuple(seen)


@dataclass(frozen=True)
class ClusterConfig:
    """A parsed cluster file; ``services`` are in dependency order."""

    services: tuple[Service, ...]

    def service(self, name: str) -> Service:
        for service in self.services:
            if service.name == name:
                return service
        raise KeyError(name)

    @property
    def instances_needed(self) -> int:
        return sum(s.replicas for s in self.services)


@dataclass(frozen=True)
class NodeSpec:
    """What a runner offers: ``processors`` slots on ``ip``, ports from ``ports_from``."""

    name: str
    ip: str
    processors: int
    ports_from: int


def _read(text: str, what: str) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    try:
        parser.read_string(text, source=what)
    except configparser.DuplicateSectionError as exc:
        raise ConfigError("section appears twice", section=exc.section) from None
    except configparser.DuplicateOptionError as exc:
        raise ConfigError("key appears twice", section=exc.section, key=exc.option) from None
    except configparser.MissingSectionHeaderError as exc:
        raise ConfigError(f"line {exc.lineno}: text before the first [section]") from None
    except configparser.ParsingError as exc:
        lines = ", ".join(str(lineno) for lineno, _ in exc.errors[:3])
        raise ConfigError(f"cannot parse line {lines}") from None
    except configparser.Error as exc:
        raise ConfigError(f"cannot parse: {exc.message.splitlines()[0]}") from None
    return parser


def _positive_int(raw: str, section: str, key: str, maximum: int) -> int:
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{raw!r} is not an integer", section, key) from None
    if value <= 0:
        raise ConfigError(f"must be positive, got {value}", section, key)
    if value > maximum:
        raise ConfigError(f"must be at most {maximum}, got {value}", section, key)
    return value


def _service(parser: configparser.ConfigParser, name: str) -> Service:
    section = parser[name]
    script = section.get("script", "").strip()
    if not script:
        raise ConfigError("missing (the command line to run)", name, "Script")
    flags = []
    for key in section:
        if key.startswith(FLAG_PREFIX):
            value = section[key].strip()
            if not value:
                raise ConfigError("flag without a value", name, key)
            flags.append(Flag(key, value))
    raw_connected = section.get("connected", "")
    connected = tuple(part.strip() for part in raw_connected.split(",") if part.strip())
    replicas_given = "replicas" in section
    replicas = (
        _positive_int(section["replicas"], name, "Replicas", MAX_REPLICAS)
        if replicas_given
        else DEFAULT_REPLICAS
    )
    raw_restart = section.get("restart", Restart.ALWAYS.value).strip().lower()
    try:
        restart = Restart(raw_restart)
    except ValueError:
        choices = ", ".join(r.value for r in Restart)
        raise ConfigError(f"{raw_restart!r} is not one of {choices}", name, "Restart") from None
    role = section.get("role", DEFAULT_ROLE).strip() or DEFAULT_ROLE
    return Service(name, script, tuple(flags), connected, role, replicas, restart, replicas_given)


def _dependency_order(services: dict[str, Service]) -> tuple[Service, ...]:
    """Topological order, stable with respect to file order; refuses cycles."""
    for service in services.values():
        for dep in service.connected:
            if dep not in services:
                raise ConfigError(f"unknown service {dep!r}", service.name, "Connected")
            if dep == service.name:
                raise ConfigError("a service cannot depend on itself", service.name, "Connected")
    ordered: list[Service] = []
    done: set[str] = set()
    pending = list(services.values())
    while pending:
        ready = [s for s in pending if all(dep in done for dep in s.connected)]
        if not ready:
            cycle = pending[0].name
            raise ConfigError("dependency cycle through " + ", ".join(s.name for s in pending),
                              cycle, "Connected")
        # Take the first ready service in file order, then re-evaluate.
        first = ready[0]
        ordered.append(first)
        done.add(first.name)
        pending.remove(first)
    return tuple(ordered)


def parse_cluster(text: str) -> ClusterConfig:
    """Parse a cluster file (spec §1) or raise :class:`ConfigError`."""
    parser = _read(text, "<cluster>")
    names = parser.sections()
    if not names:
        raise ConfigError("no service section: a cluster needs at least one [service]")
    services = {name: _service(parser, name) for name in names}
    return ClusterConfig(_dependency_order(services))


def parse_node(text: str) -> NodeSpec:
    """Parse a node description (spec §2, keys in ``[DEFAULT]``) or raise ConfigError."""
    parser = _read(text, "<node>")
    return node_from_fields(dict(parser.defaults()))


def node_from_fields(fields: dict[str, object]) -> NodeSpec:
    """A node from lower-case keys ``name, ip, processors, ports_from`` (INI or JSON)."""
    name = fields.get("name", "")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError("missing (the node's name)", "DEFAULT", "Name")
    name = name.strip()
    if len(name) > 200:
        raise ConfigError("longer than 200 characters", "DEFAULT", "Name")
    ip = fields.get("ip", "")
    if not isinstance(ip, str) or not ip.strip():
        raise ConfigError("missing (the node's address)", "DEFAULT", "Ip")
    ip = ip.strip()
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise ConfigError(f"{ip[:60]!r} is not an IP address", "DEFAULT", "Ip") from None
    numbers = []
    for key, label, maximum in (("processors", "Processors", MAX_PROCESSORS),
                                ("ports_from", "Ports_from", 65535)):
        if key not in fields:
            raise ConfigError("missing", "DEFAULT", label)
        raw = fields[key]
        if isinstance(raw, bool) or not isinstance(raw, int | str):
            raise ConfigError("must be an integer", "DEFAULT", label)
        numbers.append(_positive_int(str(raw), "DEFAULT", label, maximum))
    return NodeSpec(name, ip, numbers[0], numbers[1])
