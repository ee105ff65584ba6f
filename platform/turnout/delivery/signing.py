"""Signatures for webhooks, both ways: `t=<unix time>,v1=<HMAC-SHA256 of "t.body">`."""

from __future__ import annotations

import hashlib
import hmac
import time

MAX_SKEW = 300  # seconds a signed request may be old


def sign(secret: str, body: bytes, at: int | None = None) -> str:
    ts = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={ts},v1={mac}"


def verify(secret: str, body: bytes, header: str | None, now: float | None = None) -> bool:
    """A valid signature of this body, made within MAX_SKEW seconds."""
    if not header:
        return False
    try:
        parts = dict(p.split("=", 1) for p in header.split(","))
        ts, mac = int(parts["t"]), parts["v1"]
    except (KeyError, ValueError):
        return False
    if abs((time.time() if now is None else now) - ts) > MAX_SKEW:
        return False
    expected = hmac.new(secret.encode(), f"{ts}.".encode() + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(mac.encode(), expected.encode())
