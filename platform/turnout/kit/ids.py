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


def global_id(type_name: str, rid: object) -> str:
    """The API's id for an object: base64url of "Type:uuid" (GraphQL `node(id:)` takes it)."""
    import base64

    return base64.urlsafe_b64encode(f"{type_name}:{rid}".encode()).decode()
