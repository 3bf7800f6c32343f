"""Which worker holds which message: credit-based dispatch, redelivery and deduplication.

Pure bookkeeping, no sockets: the WorkerPush and WorkerPull parts drive it.

- Every message sent to workers becomes a :class:`Job` with a sequence number.
- A worker announces how many jobs it may hold (its *credit*); the pool hands jobs only to
  workers with credit, so a slow worker is never buried and memory stays bounded.
- A worker's jobs are kept in the order it received them. Workers run them in that order, so
  when a worker dies, the oldest unanswered job is the one it was running: that job's
  ``deaths`` goes up by one, and every job it held goes back to the front of the queue.
  A job that has killed ``max_deaths`` workers is given up and reported as failed.
- The first final result of a job wins; anything later for the same sequence number (the
  dead worker's last words, or a redelivered copy) is a duplicate and is dropped. For
  workers that yield several results per job, the pool remembers how many were published,
  so a redelivered job does not publish its first results twice.
"""

from __future__ import annotations

import contextlib
import time
from collections import deque
from dataclasses import dataclass, field

__all__ = ["Job", "WorkerState", "WorkerPool"]


@dataclass(slots=True, eq=False)
class Job:
    seq: int
    data: bytes
    client: str = ""
    batched: bool = False
    deaths: int = 0
    worker: bytes | None = None
    published: int = 0


@dataclass(slots=True)
class WorkerState:
    ident: bytes
    credit: int
    last_seen: float
    held: dict[int, None] = field(default_factory=dict)


class WorkerPool:
    """The workers of one master and the jobs they hold."""

    def __init__(
        self,
        *,
        max_pending: int = 2000,
        max_deaths: int = 3,
        liveness: float = 3.0,
        clock: object = time.monotonic,
    ) -> None:
        self.max_pending = max_pending
        self.max_deaths = max_deaths
        self.liveness = liveness
        self._clock = clock
        self.pending: deque[Job] = deque()
        self.jobs: dict[int, Job] = {}
        self.workers: dict[bytes, WorkerState] = {}
        self._next_seq = 1
        self._rotation: deque[bytes] = deque()

    def now(self) -> float:
        return self._clock()  # type: ignore[operator]

    # -- jobs coming in -----------------------------------------------------------------
    def accepting(self) -> bool:
        return len(self.pending) < self.max_pending

    def submit(self, data: bytes, client: str = "", batched: bool = False) -> Job:
        job = Job(self._next_seq, data, client, batched)
        self._next_seq += 1
        self.jobs[job.seq] = job
        self.pending.append(job)
        return job

    # -- workers ------------------------------------------------------------------------
    def hello(self, ident: bytes, credit: int) -> list[Job]:
        """A worker (re)introduces itself with the credit it has free.

        A worker that says hello again has lost track of what it held (it restarted, or the
        master had given it up): its held jobs go back to the queue without blame.
        """
        requeued = self._forget(ident, blame=False)
        self.workers[ident] = WorkerState(ident, max(0, credit), self.now())
        self._rotation.append(ident)
        return requeued

    def seen(self, ident: bytes) -> bool:
        """Note a sign of life; False when the worker is unknown (it must say hello)."""
        worker = self.workers.get(ident)
        if worker is None:
            return False
        worker.last_seen = self.now()
        return True

    def bye(self, ident: bytes) -> None:
        """A worker leaves cleanly: what it still held goes back to the queue, no blame."""
        self._forget(ident, blame=False)

    def expire(self) -> tuple[list[bytes], list[Job]]:
        """Give up workers silent for longer than ``liveness``.

        Returns the workers given up and the jobs that have now killed ``max_deaths``
        workers (removed from the pool; the caller reports them as failed).
        """
        limit = self.now() - self.liveness
        dead = [w.ident for w in self.workers.values() if w.last_seen < limit]
        failed: list[Job] = []
        for ident in dead:
            failed.extend(self._forget(ident, blame=True))
        return dead, failed

    def _forget(self, ident: bytes, *, blame: bool) -> list[Job]:
        worker = self.workers.pop(ident, None)
        if worker is None:
            return []
        with contextlib.suppress(ValueError):
            self._rotation.remove(ident)
        held = [self.jobs[seq] for seq in worker.held if seq in self.jobs]
        failed: list[Job] = []
        if blame and held:
            held[0].deaths += 1
            if held[0].deaths >= self.max_deaths:
                failed.append(held.pop(0))
                del self.jobs[failed[0].seq]
        for job in reversed(held):
            job.worker = None
            self.pending.appendleft(job)
        return failed

    # -- dispatch -----------------------------------------------------------------------
    def assign(self, batch: int = 64) -> list[tuple[bytes, list[Job]]]:
        """Hand pending jobs to workers with credit, spreading them in turn."""
        out: list[tuple[bytes, list[Job]]] = []
        rotation = self._rotation
        turns = len(rotation)
        while self.pending and turns:
            ident = rotation[0]
            rotation.rotate(-1)
            worker = self.workers[ident]
            if worker.credit <= 0:
                turns -= 1
                continue
            ready = sum(1 for w in self.workers.values() if w.credit > 0)
            share = max(1, -(-len(self.pending) // ready))
            take = min(worker.credit, batch, share, len(self.pending))
            jobs = [self.pending.popleft() for _ in range(take)]
            for job in jobs:
                job.worker = ident
                worker.held[job.seq] = None
            worker.credit -= take
            out.append((ident, jobs))
            turns = len(rotation)
        return out

    # -- results ------------------------------------------------------------------------
    def result(self, ident: bytes, seq: int, index: int, final: bool) -> Job | None:
        """Account one result; return its job when it must be published, None for a duplicate.

        ``index`` is the position of this result among the results of the job (several for
        a worker that yields many); ``final`` marks the job's last one.
        """
        job = self.jobs.get(seq)
        worker = self.workers.get(ident)
        if worker is not None:
            worker.last_seen = self.now()
        if job is None or index < job.published:
            if final and worker is not None and seq in worker.held:
                del worker.held[seq]
                worker.credit += 1
            return None
        job.published = index + 1
        if final:
            del self.jobs[seq]
            if worker is not None and seq in worker.held:
                del worker.held[seq]
                worker.credit += 1
            elif job in self.pending:
                self.pending.remove(job)
        return job

    def finished(self, ident: bytes, seq: int) -> None:
        """A job ended with nothing more to publish (e.g. a generator that yielded nothing)."""
        job = self.jobs.get(seq)
        self.result(ident, seq, job.published if job is not None else 0, True)

    @property
    def in_flight(self) -> int:
        return len(self.jobs)
