"""Fixtures that run PALM components as real processes on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pylm.clients import Client
from tests.conftest import Proc, Procs

COMPONENTS = str(Path(__file__).with_name("palm_components.py"))
LISTEN = r"Cache listening on (tcp://\S+)"


@dataclass
class Cluster:
    name: str
    db: str
    master: Proc
    workers: list[Proc]
    procs: Procs

    def add_worker(self, *args: str, kind: str = "worker") -> Proc:
        worker = self.procs.python(COMPONENTS, kind, self.db, *args,
                                   name=f"{kind}{len(self.workers)}")
        worker.wait_for("Got worker pull address")
        self.workers.append(worker)
        return worker

    def client(self, **kw: object) -> Client:
        return Client(self.name, self.db, **kw)  # type: ignore[arg-type]


def start_master(procs: Procs, name: str = "master", *args: str) -> tuple[Proc, str]:
    master = procs.python(COMPONENTS, "master", name, *args, name="master")
    return master, master.wait_for(LISTEN).group(1)


def start_server(procs: Procs, name: str = "server", *args: str) -> tuple[Proc, str]:
    server = procs.python(COMPONENTS, "server", name, *args, name="server")
    return server, server.wait_for(LISTEN).group(1)


@pytest.fixture
def make_cluster(procs: Procs) -> Callable[..., Cluster]:
    def make(workers: int = 2, *worker_args: str, heartbeat: float = 1.0,
             name: str = "master", kind: str = "worker") -> Cluster:
        master, db = start_master(procs, name, "--heartbeat", str(heartbeat))
        cluster = Cluster(name, db, master, [], procs)
        for _ in range(workers):
            cluster.add_worker(*worker_args, kind=kind)
        return cluster

    return make


@pytest.fixture
def cluster(make_cluster: Callable[..., Cluster]) -> Iterator[Cluster]:
    yield make_cluster()


@pytest.fixture
def client_of() -> Iterator[Callable[..., Client]]:
    clients: list[Client] = []

    def make(name: str, db: str, **kw: object) -> Client:
        client = Client(name, db, **kw)  # type: ignore[arg-type]
        clients.append(client)
        return client

    yield make
    for client in clients:
        client.close()
