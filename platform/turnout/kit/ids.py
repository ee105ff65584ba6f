"""Identifiers and secrets."""

from __future__ import annotations

import hashlib
import secrets
import uuid


def new_id() -> uuid.UUID:
    return uuid.uuid4()


def new_secret(nbytes: int = 32) -> str:
    """An unguessable url-safe token."""
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()
