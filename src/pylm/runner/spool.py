"""The on-disk spool: every line is stored here first and removed only once acknowledged.

Why SQLite (one file, ``spool.sqlite3`` in the spool directory) rather than append-only
segment files: a batch of lines, the sequence numbers they consumed and the removal of an
acknowledged batch are each one transaction, so a runner killed at any instant (even with
SIGKILL) leaves a spool that is consistent: no half-written line, no sequence number used
twice, no acknowledged batch half-removed. Segment files would need the same guarantees
hand-built (checksummed records, an offset file written atomically, compaction); SQLite
gives them tested. The journal is in WAL mode with ``synchronous=NORMAL``: a commit is in
the operating system's hands before the line is shipped, which survives any crash of the
runner; only a power cut can lose the last commits (see docs/runner.md).

The spool also keeps:
- ``source``: a uuid naming this spool to the registry, so that ``(source, instance, seq)``
  identifies a line and a batch sent twice is stored once;
- ``sequences``: the next sequence number of each instance (strictly increasing, never
  reused, even across restarts of the runner);
- ``events``: instance events waiting to be posted;
- ``processes``: the process groups the runner started, so that a runner restarted after
  being killed can end the ones its predecessor left behind;
- ``meta``: small facts such as the node name used last time.

A size cap bounds the lines kept while the registry is away: beyond it new lines are
dropped and counted, a warning is printed, and once there is room again the instance gets
a line saying how many of its lines were dropped.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import sqlite3
import uuid
from dataclasses import dataclass
from pathlib import Path

from .events import iso_time

__all__ = [
    "DEFAULT_SPOOL_MAX_BYTES",
    "LINE_OVERHEAD_BYTES",
    "Batch",
    "Spool",
    "SpoolError",
]

DEFAULT_SPOOL_MAX_BYTES = 512 * 1024 * 1024
LINE_OVERHEAD_BYTES = 64  # what a line costs besides its text (labels, numbers, index)
_DATABASE = "spool.sqlite3"
_LOCK = "lock"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lines (
    id INTEGER PRIMARY KEY, node TEXT NOT NULL, service TEXT NOT NULL,
    instance TEXT NOT NULL, stream TEXT NOT NULL, time REAL NOT NULL,
    seq INTEGER NOT NULL, text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (instance TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS processes (
    instance TEXT PRIMARY KEY, pid INTEGER NOT NULL, start_ticks INTEGER NOT NULL);
"""

log = logging.getLogger("pylm.runner")


class SpoolError(RuntimeError):
    """The spool directory cannot be used (in use by another runner, unreadable, ...)."""


@dataclass(frozen=True)
class Batch:
    """Lines (in wire form) read from the spool, and the id that acknowledges them all."""

    lines: list[dict[str, object]]
    last_id: int
    size: int


class Spool:
    """One runner's spool directory. Not thread-safe: use it from the event loop only."""

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_SPOOL_MAX_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._lock_fd = os.open(directory / _LOCK, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SpoolError(f"spool directory {directory}: cannot use it ({exc})") from None
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise SpoolError(
                f"spool directory {directory} is in use by another runner; "
                "give this one its own --spool"
            ) from None
        os.ftruncate(self._lock_fd, 0)
        os.write(self._lock_fd, f"{os.getpid()}\n".encode())
        try:
            self._db = sqlite3.connect(directory / _DATABASE, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            os.close(self._lock_fd)
            raise SpoolError(f"spool {directory / _DATABASE}: unusable ({exc})") from None
        self.source = self._meta_value("source") or self._new_source()
        self._next_seq = dict(self._db.execute("SELECT instance, next FROM sequences"))
        count, size = self._db.execute(
            "SELECT count(*), coalesce(sum(length(CAST(text AS BLOB))), 0) FROM lines"
        ).fetchone()
        self.pending_lines: int = count
        self.pending_bytes: int = size + count * LINE_OVERHEAD_BYTES
        self._dropped: dict[tuple[str, str, str, str], int] = {}
        self._full_warned = False

    # -- lines ---------------------------------------------------------------------------

    def append(
        self, node: str, service: str, instance: str, stream: str, when: float, texts: list[str]
    ) -> int:
        """Store ``texts`` with their sequence numbers; returns how many were stored."""
        key = (node, service, instance, stream)
        if self._dropped.get(key) and self._has_room(200):
            dropped = self._dropped.pop(key)
            note = (
                f"[pylm-runner] {dropped} lines of {stream} dropped here: the spool was full "
                f"({self.max_bytes // (1024 * 1024)} MiB)"
            )
            texts = [note, *texts]
        sizes = [len(text.encode("utf-8")) + LINE_OVERHEAD_BYTES for text in texts]
        room = self.max_bytes - self.pending_bytes
        keep = len(texts)
        if sum(sizes) > room:
            keep, used = 0, 0
            for size in sizes:
                if used + size > room:
                    break
                used += size
                keep += 1
            self._note_dropped(key, len(texts) - keep)
        if keep == 0:
            return 0
        first = self._next_seq.get(instance, 1)
        rows = [
            (node, service, instance, stream, when, first + i, texts[i]) for i in range(keep)
        ]
        self._next_seq[instance] = first + keep
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany(
                "INSERT INTO lines (node, service, instance, stream, time, seq, text) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            db.execute(
                "INSERT INTO sequences (instance, next) VALUES (?, ?) "
                "ON CONFLICT (instance) DO UPDATE SET next = excluded.next",
                (instance, first + keep),
            )
            db.execute("COMMIT")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            self._next_seq[instance] = first
            raise
        self.pending_lines += keep
        self.pending_bytes += sum(sizes[:keep])
        return keep

    def next_batch(self, max_lines: int, max_bytes: int) -> Batch | None:
        """The oldest unacknowledged lines, at most ``max_lines`` and about ``max_bytes``."""
        rows = self._db.execute(
            "SELECT id, node, service, instance, stream, time, seq, text FROM lines "
            "ORDER BY id LIMIT ?",
            (max_lines,),
        ).fetchall()
        if not rows:
            return None
        lines: list[dict[str, object]] = []
        size = 0
        last_id = rows[0][0]
        for row_id, node, service, instance, stream, when, seq, text in rows:
            cost = len(text) + LINE_OVERHEAD_BYTES + 80
            if lines and size + cost > max_bytes:
                break
            size += cost
            last_id = row_id
            lines.append(
                {
                    "node": node,
                    "service": service,
                    "instance": instance,
                    "stream": stream,
                    "time": iso_time(when),
                    "seq": seq,
                    "text": text,
                }
            )
        return Batch(lines=lines, last_id=last_id, size=size)

    def acknowledge(self, batch: Batch) -> None:
        """Remove the lines of ``batch``: the registry has stored them."""
        count, size = self._db.execute(
            "SELECT count(*), coalesce(sum(length(CAST(text AS BLOB))), 0) FROM lines "
            "WHERE id <= ?",
            (batch.last_id,),
        ).fetchone()
        self._db.execute("DELETE FROM lines WHERE id <= ?", (batch.last_id,))
        self.pending_lines -= count
        self.pending_bytes -= size + count * LINE_OVERHEAD_BYTES
        if self._full_warned and self._has_room(self.max_bytes // 10):
            self._full_warned = False
            log.warning("spool %s has room again; lines are kept again", self.directory)

    # -- events --------------------------------------------------------------------------

    def append_event(self, body: dict[str, object]) -> None:
        """Keep one event (wire form) until it is posted."""
        self._db.execute("INSERT INTO events (body) VALUES (?)", (json.dumps(body),))

    def next_events(self, limit: int = 500) -> tuple[list[dict[str, object]], int] | None:
        """The oldest unposted events and the id that acknowledges them."""
        rows = self._db.execute(
            "SELECT id, body FROM events ORDER BY id LIMIT ?", (limit,)
        ).fetchall()
        if not rows:
            return None
        return [json.loads(body) for _, body in rows], rows[-1][0]

    def acknowledge_events(self, last_id: int) -> None:
        """Remove the events up to ``last_id``: the registry has them."""
        self._db.execute("DELETE FROM events WHERE id <= ?", (last_id,))

    # -- processes and facts -------------------------------------------------------------

    def record_process(self, instance: str, pid: int, start_ticks: int) -> None:
        """Remember the process group leader started for ``instance``."""
        self._db.execute(
            "INSERT OR REPLACE INTO processes (instance, pid, start_ticks) VALUES (?, ?, ?)",
            (instance, pid, start_ticks),
        )

    def forget_process(self, instance: str) -> None:
        """``instance`` has no process running any more."""
        self._db.execute("DELETE FROM processes WHERE instance = ?", (instance,))

    def recorded_processes(self) -> list[tuple[str, int, int]]:
        """``(instance, pid, start_ticks)`` of every process group still recorded."""
        return list(self._db.execute("SELECT instance, pid, start_ticks FROM processes"))

    def get(self, key: str) -> str | None:
        """A fact kept in the spool (e.g. ``node``), or None."""
        return self._meta_value(key)

    def set(self, key: str, value: str) -> None:
        """Keep a fact in the spool."""
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value)
        )

    def close(self) -> None:
        """Close the database and release the directory."""
        try:
            self._db.close()
        finally:
            os.close(self._lock_fd)

    # -- internals -----------------------------------------------------------------------

    def _meta_value(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    def _new_source(self) -> str:
        source = str(uuid.uuid4())
        self.set("source", source)
        (self.directory / "source").write_text(source + "\n")
        return source

    def _has_room(self, size: int) -> bool:
        return self.pending_bytes + size <= self.max_bytes

    def _note_dropped(self, key: tuple[str, str, str, str], count: int) -> None:
        if count <= 0:
            return
        self._dropped[key] = self._dropped.get(key, 0) + count
        if not self._full_warned:
            self._full_warned = True
            log.warning(
                "spool %s is full (%d MiB cap, --spool-max-mb): new lines are DROPPED until "
                "the registry takes the ones kept; is the registry reachable?",
                self.directory,
                self.max_bytes // (1024 * 1024),
            )
