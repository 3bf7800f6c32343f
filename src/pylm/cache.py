"""The key-value store behind every server's cache service, and the cache protocol.

The protocol (spec §2): a request is a serialized PalmMessage whose ``function`` ends in
``.set``, ``.get`` or ``.delete``; the part before the dot is the server's name, or ``_``
when a worker calls.

- ``set``: stores ``payload`` under ``cache`` (a fresh uuid4 key when ``cache`` is empty);
  answers the key, UTF-8.
- ``get``: the key is ``payload``; answers the stored bytes, or empty bytes when absent.
- ``delete``: the key is ``payload``; answers the key.

Anything else is logged by the caller and answered with empty bytes: a REP socket must
always answer, and an empty answer is what a missing key gives.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, MutableMapping

from pylm.errors import MessageError
from pylm.message import decode

__all__ = ["Cache", "CacheRequestError", "answer"]

#: Keys a server stores about itself so that clients and workers only need ``db_address``.
SELF_DESCRIPTION_KEYS = (
    "name",
    "pull_address",
    "pub_address",
    "sub_address",
    "worker_push_address",
    "worker_pull_address",
    "db_address",
)


class CacheRequestError(MessageError):
    """A cache request that cannot be answered (bad bytes, unknown verb, other server)."""


class Cache(MutableMapping[str, bytes]):
    """A plain in-memory store of ``bytes`` values under ``str`` keys."""

    def __init__(self) -> None:
        self._data: dict[str, bytes] = {}

    def __getitem__(self, key: str) -> bytes:
        return self._data[key]

    def __setitem__(self, key: str, value: bytes) -> None:
        if not isinstance(value, bytes | bytearray | memoryview):
            raise TypeError(f"cache values are bytes, not {type(value).__name__}")
        self._data[key] = bytes(value)

    def __delitem__(self, key: str) -> None:
        del self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    # The names of the original DictDB, kept for scripts that call them.
    def get(self, key: str, default: bytes | None = None) -> bytes | None:  # type: ignore[override]
        return self._data.get(key, default)

    def set(self, key: str, value: bytes) -> str:
        self[key] = value
        return key

    def delete(self, key: str) -> str:
        self._data.pop(key, None)
        return key


def answer(cache: MutableMapping[str, bytes], data: bytes, server_name: str) -> bytes:
    """Run one cache request against ``cache`` and return the answer bytes.

    Raises :class:`CacheRequestError` for a request that is not one; the caller logs it and
    answers empty bytes.
    """
    try:
        message = decode(data)
    except MessageError as exc:
        raise CacheRequestError(str(exc)) from None
    server, dot, verb = message.function.rpartition(".")
    if not dot:
        raise CacheRequestError(f"cache call {message.function!r} is not of the form server.verb")
    if server not in ("_", server_name):
        raise CacheRequestError(
            f"cache call for server {server!r} reached {server_name!r}"
        )
    if verb == "set":
        key = message.cache or str(uuid.uuid4())
        cache[key] = message.payload
        return key.encode()
    try:
        key = message.payload.decode()
    except UnicodeDecodeError:
        raise CacheRequestError(f"cache key of {verb!r} is not UTF-8") from None
    if verb == "get":
        value = cache.get(key)
        return b"" if value is None else bytes(value)
    if verb == "delete":
        cache.pop(key, None)
        return key.encode()
    raise CacheRequestError(f"unknown cache call {verb!r} (expected set, get or delete)")
