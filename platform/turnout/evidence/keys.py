"""Each tenant's Ed25519 key for signing checkpoints: made when the tenant is provisioned, or
on first use for tenants older than the evidence trail (migrations cannot reach the master
key). The private half is stored wrapped by the master key, like the tenant data keys."""

from __future__ import annotations

import hashlib
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.keys import keyring
from ..db.session import public_session
from .models import EvidenceKey

CACHE_SECONDS = 60.0


def fingerprint(raw: bytes) -> str:
    """SHA-256 (hex) of the raw 32-byte public key: what a person compares."""
    return hashlib.sha256(raw).hexdigest()


def key_id_for(raw: bytes) -> str:
    return "ed25519-" + fingerprint(raw)[:16]


def _aad(tenant_id: uuid.UUID, key_id: str) -> bytes:
    return f"turnout/evidence-key|{tenant_id}|{key_id}".encode()


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def pem_of(raw: bytes) -> str:
    return (
        Ed25519PublicKey.from_public_bytes(raw)
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass(frozen=True)
class PublicKeyInfo:
    key_id: str
    raw: bytes
    state: str
    created_at: datetime | None

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    @property
    def pem(self) -> str:
        return pem_of(self.raw)

    def as_json(self) -> dict:
        return {
            "key_id": self.key_id,
            "algorithm": "Ed25519",
            "state": self.state,
            "public_key_hex": self.raw.hex(),
            "public_key_pem": self.pem,
            "fingerprint_sha256": self.fingerprint,
        }


def _new_row(tenant_id: uuid.UUID) -> dict:
    private = Ed25519PrivateKey.generate()
    raw = raw_public(private.public_key())
    secret = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    key_id = key_id_for(raw)
    return dict(
        tenant_id=tenant_id,
        key_id=key_id,
        public_key=raw,
        wrapped=keyring.wrap(secret, _aad(tenant_id, key_id)),
        master_fingerprint=keyring.fingerprint,
        state="active",
    )


async def provision(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """A new tenant's key, in the provisioning transaction (public session)."""
    session.add(EvidenceKey(**_new_row(tenant_id)))
    await session.flush()


async def _active_row(tenant_id: uuid.UUID) -> EvidenceKey:
    async with public_session() as s:
        row = await s.scalar(
            select(EvidenceKey).where(
                EvidenceKey.tenant_id == tenant_id, EvidenceKey.state == "active"
            )
        )
        if row is None:  # a tenant from before the evidence trail: make its key now
            await s.execute(
                insert(EvidenceKey)
                .values(**_new_row(tenant_id))
                .on_conflict_do_nothing(
                    index_elements=["tenant_id"], index_where=EvidenceKey.state == "active"
                )
            )
            await s.commit()
            row = await s.scalar(
                select(EvidenceKey).where(
                    EvidenceKey.tenant_id == tenant_id, EvidenceKey.state == "active"
                )
            )
        return row


_signers: dict[uuid.UUID, tuple[float, str, Ed25519PrivateKey]] = {}


async def signing_key(tenant_id: uuid.UUID) -> tuple[str, Ed25519PrivateKey]:
    """(key id, private key) of the tenant's active key."""
    hit = _signers.get(tenant_id)
    if hit and time.monotonic() - hit[0] < CACHE_SECONDS:
        return hit[1], hit[2]
    row = await _active_row(tenant_id)
    secret = keyring.unwrap(row.wrapped, _aad(tenant_id, row.key_id), row.master_fingerprint)
    private = Ed25519PrivateKey.from_private_bytes(secret)
    _signers[tenant_id] = (time.monotonic(), row.key_id, private)
    return row.key_id, private


async def public_keys(tenant_id: uuid.UUID) -> list[PublicKeyInfo]:
    """Every key the tenant has signed with, the active one first (made if missing)."""
    await _active_row(tenant_id)
    async with public_session() as s:
        rows = (
            await s.execute(
                select(EvidenceKey)
                .where(EvidenceKey.tenant_id == tenant_id)
                .order_by(EvidenceKey.state, EvidenceKey.created_at)
            )
        ).scalars()
        return [PublicKeyInfo(r.key_id, r.public_key, r.state, r.created_at) for r in rows]


async def public_key(tenant_id: uuid.UUID, key_id: str | None = None) -> PublicKeyInfo:
    keys = await public_keys(tenant_id)
    if key_id is None:
        return keys[0]
    for k in keys:
        if k.key_id == key_id:
            return k
    raise LookupError(f"no evidence key {key_id}")
