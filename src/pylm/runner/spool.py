"""The on-disk spool: every line is stored here first and removed only once acknowledged.

Why SQLite (one file, ``spool.sqlite3`` in the spool directory) rather than append-only
segment files: a chunk of lines, the sequence numbers it consumed and the removal of an
acknowledged batch are each one transaction, so a runner killed at any instant (even with
SIGKILL) leaves a spool that is consistent: no half-written line, no sequence number used
twice, no acknowledged batch half-removed. Segment files would need the same guarantees
hand-built (checksummed records, an offset file written atomically, compaction); SQLite
gives them tested. The journal is in WAL mode with ``synchronous=NORMAL``: a commit is in
the operating system's hands before the line is shipped, which survives any crash of the
runner; only a power cut can lose the last commits (see docs/runner.md).

One row per *chunk*: the lines one read from one pipe returned (they share node, service,
instance, stream and time, and have consecutive sequence numbers), joined by newlines
(a line never contains one). That is one insert per pipe read instead of one per line.
A batch may end inside a chunk: the row then records how many of its lines are ``done``.
The oldest chunks are also kept in memory (up to ``cache_bytes``), so shipping reads the
disk only after the runner restarted or after a long outage filled the cache.

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
from collections import deque
from dataclasses import dataclass
from json.encoder import encode_basestring
from pathlib import Path

from .events import iso_time

__all__ = [
    "DEFAULT_CACHE_BYTES",
    "DEFAULT_SPOOL_MAX_BYTES",
    "LINE_OVERHEAD_BYTES",
    "Batch",
    "Spool",
    "SpoolError",
]

DEFAULT_SPOOL_MAX_BYTES = 512 * 1024 * 1024
DEFAULT_CACHE_BYTES = 32 * 1024 * 1024
LINE_OVERHEAD_BYTES = 64  # what a line costs besides its text (labels, numbers, index)
_DATABASE = "spool.sqlite3"
_LOCK = "lock"
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY, node TEXT NOT NULL, service TEXT NOT NULL,
    instance TEXT NOT NULL, stream TEXT NOT NULL, time REAL NOT NULL,
    first_seq INTEGER NOT NULL, count INTEGER NOT NULL, done INTEGER NOT NULL DEFAULT 0,
    text TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sequences (instance TEXT PRIMARY KEY, next INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS processes (
    instance TEXT PRIMARY KEY, pid INTEGER NOT NULL, start_ticks INTEGER NOT NULL);
"""

log = logging.getLogger("pylm.runner")


class SpoolError(RuntimeError):
    """The spool directory cannot be used (in use by another runner, unreadable, ...)."""


class _Chunk:
    """A chunk of lines in memory: the JSON head its lines share, and the lines."""

    __slots__ = ("bytes_left", "done", "first_seq", "head", "id", "texts")

    def __init__(self, row_id: int, head: str, texts: list[str], first_seq: int, done: int,
                 bytes_left: int) -> None:
        self.id = row_id
        self.head = head
        self.texts = texts
        self.first_seq = first_seq
        self.done = done
        self.bytes_left = bytes_left


@dataclass(frozen=True)
class Batch:
    """Lines read from the spool, each as a JSON object in the wire form of
    docs/runner-protocol.md, and what acknowledging them removes."""

    fragments: list[str]
    slices: tuple[tuple[_Chunk, int, int], ...]

    @property
    def count(self) -> int:
        """How many lines."""
        return len(self.fragments)

    def lines(self) -> list[dict[str, object]]:
        """The lines decoded (for tests and debugging)."""
        return json.loads("[" + ",".join(self.fragments) + "]")


def _line_head(node: str, service: str, instance: str, stream: str, when: float) -> str:
    return (f'{{"node":{encode_basestring(node)},"service":{encode_basestring(service)},'
            f'"instance":{encode_basestring(instance)},"stream":{encode_basestring(stream)},'
            f'"time":"{iso_time(when)}","seq":')


def _size(texts: list[str]) -> int:
    return sum(len(text.encode("utf-8")) for text in texts) + len(texts) * LINE_OVERHEAD_BYTES


class Spool:
    """One runner's spool directory. Not thread-safe: use it from the event loop only."""

    def __init__(self, directory: Path, max_bytes: int = DEFAULT_SPOOL_MAX_BYTES,
                 cache_bytes: int = DEFAULT_CACHE_BYTES) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self._cache_cap = cache_bytes
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)  # lines may be private
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
            "SELECT coalesce(sum(count - done), 0), coalesce(sum(length(CAST(text AS BLOB))), 0)"
            " FROM chunks"
        ).fetchone()
        self.pending_lines: int = count
        self.pending_bytes: int = size + count * LINE_OVERHEAD_BYTES
        self._cache: deque[_Chunk] = deque()
        self._cached_bytes = 0
        self._on_disk_only = count > 0  # pending chunks beyond the cache, on disk only
        self._dropped: dict[tuple[str, str, str, str], int] = {}
        self._full_warned = False

    # -- lines ---------------------------------------------------------------------------

    def append(
        self, node: str, service: str, instance: str, stream: str, when: float, texts: list[str]
    ) -> int:
        """Store ``texts`` with their sequence numbers; returns how many were stored."""
        if not texts:
            return 0
        key = (node, service, instance, stream)
        if self._dropped.get(key) and self._has_room(200):
            dropped = self._dropped.pop(key)
            note = (
                f"[pylm-runner] {dropped} lines of {stream} dropped here: the spool was full "
                f"({self.max_bytes // (1024 * 1024)} MiB)"
            )
            texts = [note, *texts]
        joined = "\n".join(texts)
        if joined.count("\n") != len(texts) - 1:  # a text held newlines: they end lines
            texts = joined.split("\n")
        size = len(joined.encode("utf-8")) + len(texts) * LINE_OVERHEAD_BYTES
        room = self.max_bytes - self.pending_bytes
        if size > room:
            keep, used = 0, 0
            for text in texts:
                cost = len(text.encode("utf-8")) + LINE_OVERHEAD_BYTES
                if used + cost > room:
                    break
                used += cost
                keep += 1
            self._note_dropped(key, len(texts) - keep)
            if keep == 0:
                return 0
            texts = texts[:keep]
            joined = "\n".join(texts)
            size = used
        first = self._next_seq.get(instance, 1)
        count = len(texts)
        db = self._db
        db.execute("BEGIN")
        try:
            cursor = db.execute(
                "INSERT INTO chunks (node, service, instance, stream, time, first_seq, count, "
                "text) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (node, service, instance, stream, when, first, count, joined),
            )
            db.execute(
                "INSERT INTO sequences (instance, next) VALUES (?, ?) "
                "ON CONFLICT (instance) DO UPDATE SET next = excluded.next",
                (instance, first + count),
            )
            db.execute("COMMIT")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            raise
        self._next_seq[instance] = first + count
        self.pending_lines += count
        self.pending_bytes += size
        if not self._on_disk_only and self._cached_bytes < self._cache_cap:
            head = _line_head(node, service, instance, stream, when)
            self._cache.append(_Chunk(cursor.lastrowid or 0, head, texts, first, 0, size))
            self._cached_bytes += size
        else:
            self._on_disk_only = True
        return count

    def next_batch(self, max_lines: int, max_bytes: int) -> Batch | None:
        """The oldest unacknowledged lines, at most ``max_lines`` and about ``max_bytes``
        (always at least one line)."""
        if not self._cache and self._on_disk_only:
            self._load()
        fragments: list[str] = []
        slices: list[tuple[_Chunk, int, int]] = []
        size = 0
        for chunk in self._cache:
            room = max_lines - len(fragments)
            if room <= 0 or (fragments and size >= max_bytes):
                break
            start = chunk.done
            end = min(len(chunk.texts), start + room)
            if size + chunk.bytes_left > max_bytes:  # this chunk ends the batch: cut it
                budget, cut = max_bytes - size, start
                while cut < end:
                    cost = len(chunk.texts[cut].encode("utf-8")) + LINE_OVERHEAD_BYTES
                    if cost > budget and (fragments or cut > start):
                        break
                    budget -= cost
                    cut += 1
                end = cut
                if end == start:
                    break
            head, seq = chunk.head, chunk.first_seq
            taken = chunk.texts[start:end]
            fragments.extend(
                [f'{head}{seq + start + i},"text":{encode_basestring(text)}}}'
                 for i, text in enumerate(taken)])
            slices.append((chunk, start, end))
            size += chunk.bytes_left if end == len(chunk.texts) else _size(taken)
        if not fragments:
            return None
        return Batch(fragments=fragments, slices=tuple(slices))

    def acknowledge(self, batch: Batch) -> None:
        """Remove the lines of ``batch``: the registry has stored them."""
        finished: list[int] = []
        partial: tuple[_Chunk, int] | None = None
        acked_bytes = 0
        for chunk, start, end in batch.slices:
            if end == len(chunk.texts):
                finished.append(chunk.id)
                acked_bytes += chunk.bytes_left
            else:
                partial = (chunk, end)
                acked_bytes += _size(chunk.texts[start:end])
        db = self._db
        db.execute("BEGIN")
        try:
            db.executemany("DELETE FROM chunks WHERE id = ?", [(i,) for i in finished])
            if partial is not None:
                db.execute("UPDATE chunks SET done = ? WHERE id = ?", (partial[1], partial[0].id))
            db.execute("COMMIT")
        except sqlite3.Error:
            db.execute("ROLLBACK")
            raise
        for _ in finished:
            chunk = self._cache.popleft()
            self._cached_bytes -= chunk.bytes_left
        if partial is not None:
            chunk, end = partial
            used = _size(chunk.texts[chunk.done:end])
            chunk.bytes_left -= used
            self._cached_bytes -= used
            chunk.done = end
        self.pending_lines -= batch.count
        self.pending_bytes -= acked_bytes
        if self._full_warned and self._has_room(self.max_bytes // 10):
            self._full_warned = False
            log.warning("spool %s has room again; lines are kept again", self.directory)

    def _load(self) -> None:
        """Fill the cache with the oldest chunks on disk."""
        rows = self._db.execute(
            "SELECT id, node, service, instance, stream, time, first_seq, done, text "
            "FROM chunks ORDER BY id"
        )
        self._on_disk_only = False
        for row_id, node, service, instance, stream, when, first, done, text in rows:
            if self._cached_bytes >= self._cache_cap:
                self._on_disk_only = True
                break
            texts = text.split("\n")
            size = _size(texts[done:])
            head = _line_head(node, service, instance, stream, when)
            self._cache.append(_Chunk(row_id, head, texts, first, done, size))
            self._cached_bytes += size

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
