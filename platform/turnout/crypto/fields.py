"""Field encryption: AES-256-GCM under the tenant's data key, bound to tenant, table, column
and row; keyed hashes (blind indexes) for fields that must be found by value.

Ciphertext layout: format byte (1) | key version (4, big-endian) | nonce (12) | ct + tag.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import time
import uuid
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from .keys import keyring
from .models import TenantKey

FORMAT = 1
HEADER = 1 + 4 + 12
CACHE_SECONDS = 10.0


class DecryptionFailed(Exception):
    """A ciphertext that does not belong here (other row, column or tenant) or was altered."""


def key_aad(tenant_id: uuid.UUID, purpose: str, version: int) -> bytes:
    return f"turnout/tenant-key|{tenant_id}|{purpose}|{version}".encode()


def field_aad(tenant_id: uuid.UUID, table: str, column: str, row_id: object) -> bytes:
    return f"turnout/field|{tenant_id}|{table}|{column}|{row_id}".encode()


def key_version(blob: bytes) -> int:
    return int.from_bytes(blob[1:5], "big")


@dataclass
class TenantCipher:
    tenant_id: uuid.UUID
    data_keys: dict[int, AESGCM]
    active: int
    index_key: bytes

    def encrypt(self, value: str | None, table: str, column: str, row_id: object) -> bytes | None:
        if value is None:
            return None
        nonce = os.urandom(12)
        aad = field_aad(self.tenant_id, table, column, row_id)
        ct = self.data_keys[self.active].encrypt(nonce, value.encode(), aad)
        return bytes([FORMAT]) + self.active.to_bytes(4, "big") + nonce + ct

    def decrypt(self, blob: bytes | None, table: str, column: str, row_id: object) -> str | None:
        if blob is None:
            return None
        if len(blob) < HEADER + 16 or blob[0] != FORMAT:
            raise DecryptionFailed(f"{table}.{column} of {row_id}: not a ciphertext of ours")
        key = self.data_keys.get(key_version(blob))
        if key is None:
            raise DecryptionFailed(f"{table}.{column} of {row_id}: unknown key version")
        try:
            plain = key.decrypt(
                blob[5:HEADER], blob[HEADER:], field_aad(self.tenant_id, table, column, row_id)
            )
        except InvalidTag:
            raise DecryptionFailed(f"{table}.{column} of {row_id}: does not decrypt here") from None
        return plain.decode()

    def blind_index(self, kind: str, normalized: str | None) -> str | None:
        if normalized is None:
            return None
        return hmac.new(self.index_key, f"{kind}:{normalized}".encode(), hashlib.sha256).hexdigest()


def _new_key(
    session: AsyncSession, tenant_id: uuid.UUID, purpose: str, version: int, state: str = "active"
) -> None:
    key = AESGCM.generate_key(bit_length=256)
    session.add(
        TenantKey(
            tenant_id=tenant_id,
            purpose=purpose,
            version=version,
            state=state,
            wrapped=keyring.wrap(key, key_aad(tenant_id, purpose, version)),
            master_fingerprint=keyring.fingerprint,
        )
    )


async def provision_keys(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """A new tenant's first data key and its (never rotated) blind-index key."""
    _new_key(session, tenant_id, "data", 1)
    _new_key(session, tenant_id, "index", 1)
    await session.flush()


_cache: dict[uuid.UUID, tuple[float, TenantCipher]] = {}


def forget(tenant_id: uuid.UUID) -> None:
    _cache.pop(tenant_id, None)


async def cipher_for(
    session: AsyncSession, tenant_id: uuid.UUID, fresh: bool = False
) -> TenantCipher:
    """The tenant's keys, unwrapped; cached for a few seconds per process."""
    hit = _cache.get(tenant_id)
    if hit and not fresh and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1]
    rows = (
        (await session.execute(select(TenantKey).where(TenantKey.tenant_id == tenant_id)))
        .scalars()
        .all()
    )
    data, active, index = {}, None, None
    for r in rows:
        raw = keyring.unwrap(
            r.wrapped, key_aad(tenant_id, r.purpose, r.version), r.master_fingerprint
        )
        if r.purpose == "index":
            index = raw
        else:
            data[r.version] = AESGCM(raw)
            if r.state == "active":
                active = r.version
    if active is None or index is None:
        raise LookupError(f"tenant {tenant_id} has no keys")
    cipher = TenantCipher(tenant_id, data, active, index)
    _cache[tenant_id] = (time.monotonic(), cipher)
    return cipher
