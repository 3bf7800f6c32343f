"""The parts a master talks to its workers with (protocol: :mod:`pylm.parts.wire`).

``WorkerPushService`` hands each message to a worker with free credit and keeps the
:class:`~pylm.parts.dispatch.WorkerPool` (who holds what, heartbeats, redelivery);
``WorkerPullService`` takes results, heartbeats and goodbyes back.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

import zmq

from pylm.message import PalmMessage
from pylm.parts import wire
from pylm.parts.core import Handler, Inbound, Outbound, has_input, is_default
from pylm.parts.dispatch import WorkerPool
from pylm.parts.publisher import PubService, report_error

__all__ = ["WorkerPushService", "WorkerPullService"]


class WorkerPushService(Outbound):
    """Binds a ROUTER socket and hands each message to a worker with free credit.

    Keeps the :class:`~pylm.parts.dispatch.WorkerPool`: which worker holds which message,
    heartbeats, redelivery when a worker dies. ``prefetch`` is how many messages a worker may
    hold (workers announce it), ``heartbeat`` the interval workers beat at (published in the
    cache), ``liveness`` how many missed beats make a worker dead, ``max_deaths`` how many
    workers a message may kill before it is reported as failed.
    """

    describes = "worker_push_address"

    def __init__(
        self,
        name: str,
        listen_address: str,
        *,
        heartbeat: float = 1.0,
        liveness: int = 3,
        max_deaths: int = 3,
        max_pending: int = 2000,
        **kw: object,
    ) -> None:
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.heartbeat = heartbeat
        self.pool = WorkerPool(
            max_pending=max_pending, max_deaths=max_deaths, liveness=heartbeat * liveness
        )
        self.socket: zmq.Socket | None = None
        self._scheduled = False

    def open(self, context: zmq.Context) -> None:
        self.socket = self.make_socket(context, zmq.ROUTER)
        self.socket.setsockopt(zmq.ROUTER_MANDATORY, 1)
        self.socket.setsockopt(zmq.SNDHWM, 0)  # credit bounds what each worker holds
        self.bind(self.socket)
        self.cache["heartbeat_interval"] = repr(self.heartbeat).encode()

    def pollables(self) -> Iterable[tuple[zmq.Socket, Handler]]:
        assert self.socket is not None
        return [(self.socket, self._on_worker)]

    def accepting(self) -> bool:
        return self.pool.accepting()

    def send(self, message: PalmMessage, raw: bytes | None = None) -> None:
        data = raw if raw is not None else message.SerializeToString()
        self.submit(data, message.client, message.batched)

    def submit(self, data: bytes, client: str, batched: bool = False) -> None:
        """Queue a serialized message for the workers (results go to ``client``)."""
        self.pool.submit(data, client, batched)
        self.schedule()
        self.count()

    def schedule(self) -> None:
        if not self._scheduled and self.router is not None:
            self._scheduled = True
            self.router.soon(self.dispatch)

    def dispatch(self) -> None:
        self._scheduled = False
        assert self.socket is not None
        header = wire.JOB_HEADER.pack
        for ident, jobs in self.pool.assign():
            packed = wire.pack([header(job.seq) + job.data for job in jobs])
            try:
                self.socket.send_multipart([ident, wire.JOBS + packed], zmq.NOBLOCK)
            except zmq.ZMQError as exc:
                self.logger.warning("%s: worker %r is gone (%s)", self.name, ident, exc)
                self.pool.bye(ident)
                self.schedule()

    def resync(self, ident: bytes) -> None:
        assert self.socket is not None
        with contextlib.suppress(zmq.ZMQError):
            self.socket.send_multipart([ident, wire.RESYNC], zmq.NOBLOCK)

    def _on_worker(self) -> None:
        assert self.socket is not None
        while has_input(self.socket):
            frames = self.socket.recv_multipart(zmq.NOBLOCK)
            if len(frames) == 2 and frames[1][:2] == wire.HELLO:
                try:
                    credit = int(frames[1][2:])
                except ValueError:
                    self.logger.error("%s: bad HELLO from %r", self.name, frames[0])
                    continue
                self.pool.hello(frames[0], credit)
                ident = frames[0].decode(errors="replace")
                self.logger.info("%s: worker %s ready", self.name, ident)
                self.schedule()
            else:
                self.logger.error("%s: dropped an unexpected frame from %r", self.name, frames[0])


class WorkerPullService(Inbound):
    """Binds a PULL socket for what workers send back: results, heartbeats and goodbyes.

    Works with the :class:`WorkerPushService` of the same component: results are matched to
    the jobs it handed out, duplicates dropped, and credit returned; workers that fall silent
    are given up and their messages redelivered. A plain PalmMessage is routed as is.
    """

    describes = "worker_pull_address"

    def __init__(self, name: str, listen_address: str, **kw: object) -> None:
        super().__init__(name, listen_address, **kw)  # type: ignore[arg-type]
        self.pusher: WorkerPushService | None = None

    def open(self, context: zmq.Context) -> None:
        self.socket = self.make_socket(context, zmq.PULL)
        self.bind(self.socket)
        assert self.router is not None
        pushers = [p for p in self.router.parts.values() if isinstance(p, WorkerPushService)]
        self.pusher = pushers[0] if pushers else None
        if self.pusher is not None:
            self.router.call_every(self.pusher.heartbeat / 2, self._check_workers)

    def receive(self, frames: list[bytes]) -> None:
        frame = frames[-1]
        if not frame.startswith(b"\x00"):
            super().receive(frames)
            return
        head = frame[:2]
        try:
            ident, body = wire.split_id(frame)
        except wire.WireError as exc:
            self.logger.error("%s: dropped a control frame: %s", self.name, exc)
            return
        pusher = self.pusher
        if head == wire.RESULTS:
            self._results(ident, frame, body)
        elif head == wire.HEARTBEAT:
            if pusher is not None and not pusher.pool.seen(ident):
                pusher.resync(ident)
        elif head == wire.BYE:
            if pusher is not None:
                pusher.pool.bye(ident)
                pusher.schedule()
                self.logger.info("%s: worker %s left", self.name, ident.decode(errors="replace"))
        else:
            self.logger.error("%s: dropped an unknown control frame %r", self.name, head[:16])

    def _results(self, ident: bytes, frame: bytes, body: int) -> None:
        pusher = self.pusher
        try:
            items = wire.unpack(frame, body)
        except wire.WireError as exc:
            self.logger.error("%s: dropped a result batch from %r: %s", self.name, ident, exc)
            return
        header = wire.RESULT_HEADER
        size = header.size
        target = self.router.parts[self.route] if self.router is not None else None
        fast = (
            pusher is not None and isinstance(target, PubService) and target.plain
            and is_default(self.scatter)
        )
        for item in items:
            if len(item) < size:
                self.logger.error("%s: dropped a result with a bad header", self.name)
                continue
            seq, kind, index = header.unpack_from(item)
            job = None
            if pusher is not None:
                if kind == wire.DONE:
                    pusher.pool.finished(ident, seq)
                    continue
                job = pusher.pool.result(ident, seq, index, kind == wire.FINAL)
                if job is None:
                    continue
            elif kind == wire.DONE:
                continue
            if fast and job is not None and job.client:
                target.publish_result(job.client, job.batched, item[size:])  # type: ignore[union-attr]
                self.count()
                continue
            message = self.decode(item[size:])
            if message is not None:
                self.forward(message)
        if pusher is not None:
            pusher.schedule()

    def _check_workers(self) -> None:
        assert self.pusher is not None and self.socket is not None
        if self.socket.poll(0):
            return  # read what is waiting first: a heartbeat may be in it
        dead, failed = self.pusher.pool.expire()
        for ident in dead:
            self.logger.warning(
                "%s: worker %s stopped answering; its messages go to other workers",
                self.name, ident.decode(errors="replace"),
            )
        for job in failed:
            message = self.decode(job.data)
            if message is not None:
                report_error(
                    self, message,
                    f"gave up: this message was running when {job.deaths} workers died",
                )
        if dead:
            self.pusher.schedule()
