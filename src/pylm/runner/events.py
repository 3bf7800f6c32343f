"""What the runner tells the registry about its components: states and events.

The values are the wire vocabulary of docs/runner-protocol.md (heartbeat ``state`` and
event ``kind``); keep them in step with that page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

__all__ = ["Event", "EventKind", "InstanceState", "RestartPolicy", "iso_time"]


class InstanceState(StrEnum):
    """The life of one supervised instance."""

    STARTING = "starting"
    RUNNING = "running"
    BACKOFF = "backoff"  # exited, waiting for its restart
    CRASHLOOP = "crashloop"  # exits again and again soon after starting; still retried
    EXITED = "exited"  # ended with status 0 and is not restarted
    FAILED = "failed"  # cannot start, or ended badly and is not restarted
    STOPPED = "stopped"  # stopped by the runner

    @property
    def terminal(self) -> bool:
        """True when the instance will not run again by itself."""
        return self in (InstanceState.EXITED, InstanceState.FAILED, InstanceState.STOPPED)


class RestartPolicy(StrEnum):
    """A service's ``Restart`` key: when an exited instance is started again."""

    ALWAYS = "always"
    ON_FAILURE = "on-failure"
    NEVER = "never"

    @classmethod
    def parse(cls, value: str | None) -> RestartPolicy:
        """The policy named ``value`` (``None`` or empty: ``always``)."""
        if value is None or not value.strip():
            return cls.ALWAYS
        try:
            return cls(value.strip().lower())
        except ValueError:
            known = ", ".join(p.value for p in cls)
            raise ValueError(f"Restart = {value!r} is not one of {known}") from None

    def restarts_after(self, returncode: int) -> bool:
        """Whether an instance that ended with ``returncode`` is started again."""
        if self is RestartPolicy.ALWAYS:
            return True
        if self is RestartPolicy.ON_FAILURE:
            return returncode != 0
        return False


class EventKind(StrEnum):
    """The ``kind`` of an event posted to ``/events``."""

    START = "start"
    EXIT = "exit"
    RESTART = "restart"
    CRASHLOOP = "crashloop"
    STOP = "stop"
    ERROR = "error"


@dataclass(frozen=True)
class Event:
    """One thing that happened to an instance, as posted to the registry."""

    kind: EventKind
    instance: str
    time: float
    pid: int | None = None
    status: int | None = None
    signal: int | None = None
    detail: str = ""

    def to_json(self, node: str) -> dict[str, object]:
        """The event in the wire form of docs/runner-protocol.md."""
        return {
            "node": node,
            "instance": self.instance,
            "kind": self.kind.value,
            "time": iso_time(self.time),
            "pid": self.pid,
            "status": self.status,
            "signal": self.signal,
            "detail": self.detail,
        }


def iso_time(timestamp: float) -> str:
    """``timestamp`` (seconds since the epoch) as ISO 8601 in UTC, microseconds included."""
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")
