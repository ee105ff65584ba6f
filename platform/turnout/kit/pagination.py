"""Opaque cursors for Relay connections: keyset over (sort key, id)."""

from __future__ import annotations

import base64
import json

from .errors import invalid

MAX_PAGE = 100


def encode_cursor(*parts: object) -> str:
    raw = json.dumps([str(p) for p in parts], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, arity: int, field: str = "after") -> list[str]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        parts = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError) as exc:
        raise invalid(field, "not a cursor this API issued") from exc
    if not isinstance(parts, list) or len(parts) != arity:
        raise invalid(field, "not a cursor this API issued")
    return [str(p) for p in parts]


def page_size(first: int | None, default: int = 20) -> int:
    n = default if first is None else first
    if n < 1 or n > MAX_PAGE:
        raise invalid("first", f"must be between 1 and {MAX_PAGE}")
    return n
