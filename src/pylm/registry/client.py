"""A synchronous Python client of the registry's JSON API (``/api/v1``), on httpx.

    with RegistryClient("http://127.0.0.1:8080", api_key) as registry:
        key = registry.create_cluster(open("cluster.ini").read())["key"]
        print(registry.status(key)["ready"])
        for line in registry.iter_logs(key, service="Worker"):
            print(line["text"])
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any

import httpx

__all__ = ["DEFAULT_REGISTRY", "RegistryClient", "RegistryError"]

DEFAULT_REGISTRY = "http://127.0.0.1:8080"
API = "/api/v1"


class RegistryError(Exception):
    """The registry answered an error: ``status`` and its short ``reason``."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


class RegistryClient:
    """Calls to one registry with one token (an API key, or a generated cluster key)."""

    def __init__(self, url: str = DEFAULT_REGISTRY, key: str | None = None, *,
                 timeout: float = 30.0, transport: httpx.BaseTransport | None = None):
        headers = {"Authorization": f"Bearer {key}"} if key else {}
        self._http = httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=timeout,
                                  transport=transport)

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, *, body: Any = None,
              params: Mapping[str, Any] | None = None) -> Any:
        response = self._http.request(method, API + path, json=body, params=params)
        if response.status_code >= 400:
            try:
                reason = response.json()["error"]
            except (ValueError, KeyError, TypeError):
                reason = response.text[:200] or response.reason_phrase
            raise RegistryError(response.status_code, reason)
        return response.json()

    # clusters
    def me(self) -> dict[str, Any]:
        return self._call("GET", "/me")

    def clusters(self) -> list[dict[str, Any]]:
        return self._call("GET", "/clusters")["clusters"]

    def create_cluster(self, config: str, *, alias: str = "", key: str | None = None
                       ) -> dict[str, Any]:
        body: dict[str, Any] = {"config": config, "alias": alias}
        if key is not None:
            body["key"] = key
        return self._call("POST", "/clusters", body=body)

    def cluster(self, key: str) -> dict[str, Any]:
        return self._call("GET", f"/clusters/{key}")

    def status(self, key: str) -> dict[str, Any]:
        return self._call("GET", f"/clusters/{key}/status")

    def placement(self, key: str) -> dict[str, Any]:
        return self._call("GET", f"/clusters/{key}/placement")

    def reset(self, key: str) -> dict[str, Any]:
        return self._call("POST", f"/clusters/{key}/reset")

    def delete(self, key: str) -> dict[str, Any]:
        return self._call("DELETE", f"/clusters/{key}")

    def set_retention(self, key: str, lines: int | None) -> dict[str, Any]:
        return self._call("PATCH", f"/clusters/{key}", body={"retention": lines})

    # runner calls (docs/runner-protocol.md)
    def join(self, key: str, name: str, ip: str, processors: int, ports_from: int
             ) -> dict[str, Any]:
        return self._call("POST", f"/clusters/{key}/join", body={
            "name": name, "ip": ip, "processors": processors, "ports_from": ports_from})

    def heartbeat(self, key: str, node: str, instances: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("POST", f"/clusters/{key}/nodes/{node}/heartbeat",
                          body={"instances": instances})

    def events(self, key: str, events: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("POST", f"/clusters/{key}/events", body={"events": events})

    def send_logs(self, key: str, source: str, lines: list[dict[str, Any]]) -> dict[str, Any]:
        return self._call("POST", f"/clusters/{key}/logs", body={"source": source,
                                                                  "lines": lines})

    # reading logs
    def logs(self, key: str, **filters: Any) -> dict[str, Any]:
        """One page: ``{"lines": [...], "next_cursor": ...}``; filters as in the API."""
        return self._call("GET", f"/clusters/{key}/logs", params=_params(filters))

    def iter_logs(self, key: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """Every matching line, page after page."""
        params = _params(filters)
        while True:
            page = self._call("GET", f"/clusters/{key}/logs", params=params)
            yield from page["lines"]
            if not page["next_cursor"]:
                return
            params = {**params, "cursor": page["next_cursor"]}

    def follow(self, key: str, **filters: Any) -> Iterator[dict[str, Any]]:
        """New lines as they arrive (server-sent events), until the caller stops."""
        url = f"{API}/clusters/{key}/logs/follow"
        timeout = httpx.Timeout(self._http.timeout.connect, read=None)
        with self._http.stream("GET", url, params=_params(filters), timeout=timeout) as answer:
            if answer.status_code >= 400:
                answer.read()
                try:
                    reason = answer.json()["error"]
                except (ValueError, KeyError, TypeError):
                    reason = answer.text[:200]
                raise RegistryError(answer.status_code, reason)
            for line in answer.iter_lines():
                if line.startswith("data: "):
                    yield json.loads(line[6:])

    # users
    def users(self) -> list[dict[str, Any]]:
        return self._call("GET", "/users")["users"]

    def add_user(self, name: str, password: str, *, admin: bool = False) -> dict[str, Any]:
        return self._call("POST", "/users", body={"name": name, "password": password,
                                                  "admin": admin})

    def deactivate_user(self, name: str) -> dict[str, Any]:
        return self._call("POST", f"/users/{name}/deactivate")

    def new_key(self, name: str) -> str:
        return self._call("POST", f"/users/{name}/keys")["api_key"]


def _params(filters: Mapping[str, Any]) -> dict[str, Any]:
    """Python names to query names (``since``/``until`` for ``from``/``to``)."""
    renamed = {"since": "from", "until": "to", "text": "q"}
    return {renamed.get(k, k): v for k, v in filters.items() if v is not None}
