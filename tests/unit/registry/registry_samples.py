"""Sample configuration texts and an in-process client shared by the registry unit tests."""

import asyncio

import httpx

CLUSTER_INI = """
[Valuation Master]
Script = python3 valuation_master.py
--pull = _1
--pub = _2
--workerpull = _3
--workerpush = _4
--db = _5

[Valuation Worker]
Script = python3 valuation_worker.py
--db = _5
Connected = Valuation Master
Role = Worker
Replicas = 2
"""


def node_ini(name: str, ip: str = "127.0.0.1", processors: int = 1, ports_from: int = 5555) -> str:
    return (f"[DEFAULT]\nName = {name}\nIp = {ip}\nProcessors = {processors}\n"
            f"Ports_from = {ports_from}\n")


class AppClient:
    """Synchronous calls into the ASGI app (no network, no test-client deprecation)."""

    def __init__(self, app) -> None:
        self.loop = asyncio.new_event_loop()
        self.client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                        base_url="http://registry.test", timeout=30)

    def request(self, method: str, url: str, **kwargs) -> httpx.Response:
        return self.loop.run_until_complete(self.client.request(method, url, **kwargs))

    def get(self, url: str, **kwargs) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.close()
