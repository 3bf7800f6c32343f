"""Credentials: argon2 password hashes, API keys, cluster keys, the signing secret.

API keys are random tokens shown once; the database keeps only their SHA-256 (a token has
256 random bits, so a fast hash is enough). Generated cluster keys are uuid4 strings
(122 random bits) like the original registry's, so they can serve as join keys.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import uuid

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "API_KEY_PREFIX",
    "hash_password",
    "key_digest",
    "new_api_key",
    "new_cluster_key",
    "new_secret",
    "sign",
    "unsign",
    "verify_password",
]

API_KEY_PREFIX = "pylm_"
_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def key_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_cluster_key() -> str:
    return str(uuid.uuid4())


def new_secret() -> str:
    return secrets.token_urlsafe(48)


def sign(secret: str, payload: str) -> str:
    """``payload`` with an HMAC, as one URL-safe token (used for opaque cursors)."""
    mac = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).digest()[:16]
    raw = payload.encode() + b"." + base64.urlsafe_b64encode(mac).rstrip(b"=")
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def unsign(secret: str, token: str) -> str | None:
    """The payload of a token made by :func:`sign`, or None if it was tampered with."""
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        payload, _, mac = raw.rpartition(b".")
        expected = hmac.new(secret.encode(), payload, hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(base64.urlsafe_b64encode(expected).rstrip(b"="), mac):
            return None
        return payload.decode()
    except (ValueError, UnicodeDecodeError):
        return None
