"""The node description: what one machine offers to a cluster.

A node file is INI text whose ``[DEFAULT]`` section describes the machine::

    [DEFAULT]
    Name = node-a
    Ip = 10.0.0.5
    Processors = 8
    Ports_from = 5555

Keys are case-insensitive. ``Name`` is optional (the runner then picks one, see
``agent``); the others default to one processor on 127.0.0.1 from port 5555. The file
is parsed once into a frozen :class:`NodeDescription`; every error names the file, the
key and the bad value.
"""

from __future__ import annotations

import configparser
import ipaddress
from dataclasses import dataclass, replace
from pathlib import Path

__all__ = [
    "DEFAULT_IP",
    "DEFAULT_PORTS_FROM",
    "DEFAULT_PROCESSORS",
    "NodeDescription",
    "NodeFileError",
    "load_node_file",
    "parse_node_text",
]

DEFAULT_IP = "127.0.0.1"
DEFAULT_PROCESSORS = 1
DEFAULT_PORTS_FROM = 5555
_SECTION = "DEFAULT"
_KNOWN_KEYS = ("name", "ip", "processors", "ports_from")


class NodeFileError(ValueError):
    """A node file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class NodeDescription:
    """One machine: its name, the IP its components bind, its processors and ports."""

    name: str | None = None
    ip: str = DEFAULT_IP
    processors: int = DEFAULT_PROCESSORS
    ports_from: int = DEFAULT_PORTS_FROM

    def named(self, name: str) -> NodeDescription:
        """The same description with ``name`` set."""
        return replace(self, name=name)

    def to_json(self) -> dict[str, object]:
        """The body of ``POST /api/v1/clusters/{c}/join`` (docs/runner-protocol.md)."""
        if self.name is None:
            raise ValueError("a node needs a name before it joins")
        return {
            "name": self.name,
            "ip": self.ip,
            "processors": self.processors,
            "ports_from": self.ports_from,
        }


def load_node_file(path: str | Path) -> NodeDescription:
    """Read and parse the node file at ``path``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise NodeFileError(f"node file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise NodeFileError(f"node file {path}: cannot read it ({exc})") from None
    return parse_node_text(text, origin=str(path))


def parse_node_text(text: str, origin: str = "node file") -> NodeDescription:
    """Parse node INI text; ``origin`` names the source in error messages."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(text, source=origin)
    except configparser.Error as exc:
        first = str(exc).splitlines()[0]
        raise NodeFileError(f"{origin}: not valid INI: {first}") from None
    extra = parser.sections()
    if extra:
        raise NodeFileError(
            f"{origin}: unexpected section [{extra[0]}]: the node keys go under [{_SECTION}]"
        )
    values = parser.defaults()
    unknown = sorted(set(values) - set(_KNOWN_KEYS))
    if unknown:
        raise NodeFileError(
            f"{origin}: [{_SECTION}] unknown key {unknown[0]!r} "
            f"(known keys: Name, Ip, Processors, Ports_from)"
        )
    name = values.get("name")
    if name is not None:
        name = name.strip()
        if not name:
            raise NodeFileError(f"{origin}: [{_SECTION}] Name is empty")
        if "/" in name:
            raise NodeFileError(f"{origin}: [{_SECTION}] Name = {name!r} must not contain '/'")
    ip = values.get("ip", DEFAULT_IP).strip()
    try:
        ipaddress.ip_address(ip)
    except ValueError:
        raise NodeFileError(f"{origin}: [{_SECTION}] Ip = {ip!r} is not an IP address") from None
    processors = _integer(values, "processors", DEFAULT_PROCESSORS, origin, 1, 1_000_000)
    ports_from = _integer(values, "ports_from", DEFAULT_PORTS_FROM, origin, 1, 65535)
    return NodeDescription(name=name, ip=ip, processors=processors, ports_from=ports_from)


def _integer(
    values: dict[str, str], key: str, default: int, origin: str, low: int, high: int
) -> int:
    raw = values.get(key)
    if raw is None:
        return default
    label = key.capitalize()
    try:
        number = int(raw.strip())
    except ValueError:
        raise NodeFileError(
            f"{origin}: [{_SECTION}] {label} = {raw!r} is not a whole number"
        ) from None
    if not low <= number <= high:
        raise NodeFileError(
            f"{origin}: [{_SECTION}] {label} = {number} must be between {low} and {high}"
        )
    return number
