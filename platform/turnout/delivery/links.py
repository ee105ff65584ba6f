"""Tracked links: /r/<token> names a tenant and a notification, signed, so an open is
recorded against the message that carried it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid

from ..crypto.keys import keyring


def _mac(payload: bytes) -> bytes:
    return hmac.new(keyring.derive("tracked-links"), payload, hashlib.sha256).digest()[:16]


def token(tenant_slug: str, notification_id: uuid.UUID) -> str:
    payload = f"{tenant_slug}:{notification_id.hex}".encode()
    return base64.urlsafe_b64encode(payload + _mac(payload)).decode().rstrip("=")


def read(token_text: str) -> tuple[str, uuid.UUID] | None:
    try:
        raw = base64.urlsafe_b64decode(token_text + "=" * (-len(token_text) % 4))
        payload, mac = raw[:-16], raw[-16:]
        if not hmac.compare_digest(mac, _mac(payload)):
            return None
        slug, nid = payload.decode().split(":", 1)
        return slug, uuid.UUID(hex=nid)
    except (ValueError, UnicodeDecodeError):
        return None
