"""Key rotation without downtime: re-wrap tenant keys under the current master key, start a
new data key, then re-encrypt every registered column in small batches. Readers never fail
meanwhile: each ciphertext names its key version and old versions stay available."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update

from ..db.engine import TenantRef
from ..db.session import public_session, tenant_session
from . import fields
from .keys import keyring
from .models import TenantKey
from .registry import ENCRYPTED


@dataclass
class RotationReport:
    tenant: str
    new_version: int
    rewrapped: int
    reencrypted: int


async def start_new_version(tenant: TenantRef) -> tuple[int, int]:
    """Re-wrap keys under the current master key and make a new data key active.
    Returns (new version, keys re-wrapped)."""
    async with public_session() as s:
        rows = (
            (
                await s.execute(
                    select(TenantKey).where(TenantKey.tenant_id == tenant.id).with_for_update()
                )
            )
            .scalars()
            .all()
        )
        if not rows:
            raise LookupError(f"tenant {tenant.slug} has no keys")
        rewrapped = 0
        for r in rows:
            if r.master_fingerprint != keyring.fingerprint:
                aad = fields.key_aad(tenant.id, r.purpose, r.version)
                raw = keyring.unwrap(r.wrapped, aad, r.master_fingerprint)
                r.wrapped, r.master_fingerprint = keyring.wrap(raw, aad), keyring.fingerprint
                rewrapped += 1
        version = max(r.version for r in rows if r.purpose == "data") + 1
        for r in rows:
            if r.purpose == "data" and r.state == "active":
                r.state = "decrypt_only"
        await s.flush()
        fields._new_key(s, tenant.id, "data", version)
        await s.commit()
    fields.forget(tenant.id)
    return version, rewrapped


def _stale(table, columns, version: int):
    marker = version.to_bytes(4, "big")
    return or_(
        *[(table.c[c].is_not(None)) & (func.substring(table.c[c], 2, 4) != marker) for c in columns]
    )


async def count_stale(tenant: TenantRef, version: int) -> int:
    total = 0
    async with tenant_session(tenant) as s:
        for table, columns in ENCRYPTED.values():
            total += (
                await s.scalar(
                    select(func.count()).select_from(table).where(_stale(table, columns, version))
                )
                or 0
            )
    return total


async def reencrypt(
    tenant: TenantRef, version: int, batch: int = 500, on_batch: Callable[[int], None] | None = None
) -> int:
    """Re-encrypt rows still under older keys, one short transaction per batch."""
    done = 0
    for name, (table, columns) in ENCRYPTED.items():
        while True:
            async with tenant_session(tenant) as s:
                cipher = await fields.cipher_for(s, tenant.id)
                if cipher.active != version:
                    cipher = await fields.cipher_for(s, tenant.id, fresh=True)
                rows = (
                    await s.execute(
                        select(table.c.id, *[table.c[c] for c in columns])
                        .where(_stale(table, columns, version))
                        .order_by(table.c.id)
                        .limit(batch)
                        .with_for_update(skip_locked=True)
                    )
                ).all()
                if not rows:
                    break
                for row in rows:
                    values = {}
                    for c in columns:
                        blob = getattr(row, c)
                        if blob is not None and fields.key_version(blob) != version:
                            plain = cipher.decrypt(blob, name, c, row.id)
                            values[c] = cipher.encrypt(plain, name, c, row.id)
                    await s.execute(update(table).where(table.c.id == row.id).values(**values))
                await s.commit()
            done += len(rows)
            if on_batch:
                on_batch(len(rows))
    return done


async def rotate(
    tenant: TenantRef,
    batch: int = 500,
    on_start: Callable[[int], None] | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> RotationReport:
    version, rewrapped = await start_new_version(tenant)
    if on_start:
        on_start(await count_stale(tenant, version))
    n = await reencrypt(tenant, version, batch, on_batch)
    return RotationReport(tenant.slug, version, rewrapped, n)


async def ensure_keys(tenant_ids: list[uuid.UUID]) -> int:
    """Give keys to tenants created before field encryption existed."""
    async with public_session() as s:
        have = set((await s.execute(select(TenantKey.tenant_id).distinct())).scalars())
        missing = [t for t in tenant_ids if t not in have]
        for t in missing:
            await fields.provision_keys(s, t)
        await s.commit()
    return len(missing)
