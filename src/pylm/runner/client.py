"""The runner's side of docs/runner-protocol.md: one async HTTP client for the registry.

Every call either returns the decoded answer or raises one of:
- ``RegistryUnreachable``: no answer (connection refused, timeout, 5xx): worth retrying;
- ``ClusterGone``: 404, the cluster does not exist (any more);
- ``RegistryRefused``: another 4xx, with the registry's short reason; retrying the same
  request will not help.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote

import httpx

from .events import RestartPolicy
from .node import NodeDescription

__all__ = [
    "ClusterGone",
    "InstanceSpec",
    "JoinAnswer",
    "RegistryClient",
    "RegistryError",
    "RegistryRefused",
    "RegistryUnreachable",
]

DEFAULT_TIMEOUT = 15.0
DEFAULT_HEARTBEAT_INTERVAL = 5.0


class RegistryError(Exception):
    """A call to the registry did not succeed."""


class RegistryUnreachable(RegistryError):
    """No usable answer: the registry is down, slow or failing (5xx). Retry later."""


class RegistryRefused(RegistryError):
    """The registry refused the request (4xx); ``status`` and the reason are kept."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status} {reason}")
        self.status = status
        self.reason = reason


class ClusterGone(RegistryRefused):
    """404: the cluster does not exist."""


@dataclass(frozen=True)
class InstanceSpec:
    """One instance the registry placed on this node."""

    service: str
    replica: int
    instance: str
    command: str
    restart: RestartPolicy


@dataclass(frozen=True)
class JoinAnswer:
    """The registry's answer to a join."""

    node: str
    heartbeat_interval: float
    instances: tuple[InstanceSpec, ...]


class RegistryClient:
    """Calls the JSON API of one registry for one cluster."""

    def __init__(
        self, registry: str, cluster: str, token: str, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.cluster = cluster
        base = registry.rstrip("/")
        self._prefix = f"/api/v1/clusters/{quote(cluster, safe='')}"
        self._http = httpx.AsyncClient(
            base_url=base,
            headers={"Authorization": f"Bearer {token}", "User-Agent": "pylm-runner"},
            timeout=timeout,
            trust_env=False,
        )

    async def join(self, node: NodeDescription) -> JoinAnswer:
        """Describe the node; get back the instances to run on it."""
        answer = await self._post("/join", node.to_json())
        return _parse_join(answer)

    async def heartbeat(self, node: str, instances: list[dict[str, object]]) -> None:
        """Say the node is alive, with the state of each of its instances."""
        await self._post(f"/nodes/{quote(node, safe='')}/heartbeat", {"instances": instances})

    async def post_events(self, events: list[dict[str, object]]) -> None:
        """Post instance events (wire form)."""
        await self._post("/events", {"events": events})

    async def post_logs(self, source: str, fragments: list[str]) -> dict[str, object]:
        """Post a batch of lines, each already a JSON object (``Batch.fragments``);
        answers ``{"accepted": N, "duplicates": M}``."""
        body = f'{{"source":{json.dumps(source)},"lines":[{",".join(fragments)}]}}'
        return await self._send("/logs", body.encode("utf-8"))

    async def aclose(self) -> None:
        """Close the connections."""
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, object]) -> dict[str, object]:
        content = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        return await self._send(path, content)

    async def _send(self, path: str, content: bytes) -> dict[str, object]:
        try:
            response = await self._http.post(
                self._prefix + path,
                content=content,
                headers={"Content-Type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise RegistryUnreachable(f"{type(exc).__name__}: {exc or 'no answer'}") from None
        if response.status_code >= 500:
            raise RegistryUnreachable(f"registry answered {response.status_code}")
        if response.status_code >= 400:
            reason = _reason(response)
            if response.status_code == 404:
                raise ClusterGone(404, reason)
            raise RegistryRefused(response.status_code, reason)
        try:
            decoded = response.json()
        except ValueError:
            raise RegistryUnreachable(
                f"registry answered {response.status_code} with a body that is not JSON"
            ) from None
        if not isinstance(decoded, dict):
            raise RegistryUnreachable("registry answered JSON that is not an object")
        return decoded


def _reason(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason_phrase
    if isinstance(body, dict) and isinstance(body.get("error"), str):
        return body["error"]
    return response.reason_phrase


def _parse_join(answer: dict[str, object]) -> JoinAnswer:
    try:
        node = str(answer["node"])
        interval = float(answer.get("heartbeat_interval") or DEFAULT_HEARTBEAT_INTERVAL)
        raw_instances = answer.get("instances") or []
        if not isinstance(raw_instances, list):
            raise TypeError("instances is not a list")
        instances = tuple(
            InstanceSpec(
                service=str(item["service"]),
                replica=int(item["replica"]),
                instance=str(item["instance"]),
                command=str(item["command"]),
                restart=RestartPolicy.parse(item.get("restart")),
            )
            for item in raw_instances
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RegistryError(f"registry join answer is malformed ({exc})") from None
    if interval <= 0:
        interval = DEFAULT_HEARTBEAT_INTERVAL
    return JoinAnswer(node=node, heartbeat_interval=interval, instances=instances)
