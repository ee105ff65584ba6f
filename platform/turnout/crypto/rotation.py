"""Key rotation without downtime: re-wrap tenant keys under the current master key, add a new
data key, make it active once every process can know it, then re-encrypt every registered
column in small batches. Readers never fail meanwhile: each ciphertext names its key version,
old versions stay available, and no process meets a version newer than the keys it holds."""

from __future__ import annotations

import asyncio
import importlib
import pkgutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, or_, select, update

from ..db.engine import TenantRef
from ..db.session import public_session, tenant_session
from ..kit.errors import ServiceError
from . import fields
from .keys import MasterKeyError, keyring
from .models import TenantKey
from .registry import ENCRYPTED

# Beyond the key cache's lifetime: for the load that was running when the key was added.
SETTLE_MARGIN = 2.0


@dataclass
class RotationReport:
    tenant: str
    new_version: int
    rewrapped: int
    reencrypted: int


def encrypted_tables() -> dict:
    """The registry, complete: domains register their columns when their models are imported,
    which a process that never touched them (the `turnout` command) has not done yet."""
    root = __name__.rsplit(".", 2)[0]
    for m in pkgutil.iter_modules(importlib.import_module(root).__path__):
        if m.ispkg and m.name != "crypto":
            try:
                importlib.import_module(f"{root}.{m.name}.models")
            except ModuleNotFoundError as exc:
                if exc.name != f"{root}.{m.name}.models":
                    raise
    return ENCRYPTED


async def start_new_version(tenant: TenantRef, settle: float | None = None) -> tuple[int, int]:
    """Re-wrap keys under the current master key and add a new data key, usable for
    decryption only; once every process can have learnt it (keys are cached for
    CACHE_SECONDS), make it the active one. Returns (new version, keys re-wrapped)."""
    version, rewrapped = await _add_version(tenant)
    await asyncio.sleep(settle_seconds() if settle is None else settle)
    await _activate(tenant, version)
    return version, rewrapped


def settle_seconds() -> float:
    return fields.CACHE_SECONDS + SETTLE_MARGIN


async def _add_version(tenant: TenantRef) -> tuple[int, int]:
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
                try:
                    raw = keyring.unwrap(r.wrapped, aad, r.master_fingerprint)
                except MasterKeyError as exc:
                    raise ServiceError(
                        f"tenant {tenant.slug}: {exc}; list the master key its keys are "
                        "wrapped under in TURNOUT_PREVIOUS_MASTER_KEYS"
                    ) from exc
                r.wrapped, r.master_fingerprint = keyring.wrap(raw, aad), keyring.fingerprint
                rewrapped += 1
        version = max(r.version for r in rows if r.purpose == "data") + 1
        # Not active yet: a process still holding the old keys could not read what it encrypts.
        fields._new_key(s, tenant.id, "data", version, state="decrypt_only")
        await s.commit()
    fields.forget(tenant.id)
    return version, rewrapped


async def _activate(tenant: TenantRef, version: int) -> None:
    async with public_session() as s:
        rows = (
            (
                await s.execute(
                    select(TenantKey)
                    .where(TenantKey.tenant_id == tenant.id, TenantKey.purpose == "data")
                    .with_for_update()
                )
            )
            .scalars()
            .all()
        )
        for r in rows:
            if r.version != version and r.state == "active":
                r.state = "decrypt_only"
        await s.flush()
        for r in rows:
            if r.version == version:
                r.state = "active"
        await s.commit()
    fields.forget(tenant.id)


def _stale(table, columns, version: int):
    marker = version.to_bytes(4, "big")
    return or_(
        *[(table.c[c].is_not(None)) & (func.substring(table.c[c], 2, 4) != marker) for c in columns]
    )


async def count_stale(tenant: TenantRef, version: int) -> int:
    total = 0
    async with tenant_session(tenant) as s:
        for table, columns in encrypted_tables().values():
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
    for name, (table, columns) in encrypted_tables().items():
        pk = next(iter(table.primary_key.columns))  # the row the ciphertext is bound to
        while True:
            async with tenant_session(tenant) as s:
                cipher = await fields.cipher_for(s, tenant.id)
                if cipher.active != version:
                    cipher = await fields.cipher_for(s, tenant.id, fresh=True)
                rows = (
                    await s.execute(
                        select(pk.label("row_key"), *[table.c[c] for c in columns])
                        .where(_stale(table, columns, version))
                        .order_by(pk)
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
                            plain = cipher.decrypt(blob, name, c, row.row_key)
                            values[c] = cipher.encrypt(plain, name, c, row.row_key)
                    await s.execute(update(table).where(pk == row.row_key).values(**values))
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
    settle: float | None = None,
) -> RotationReport:
    version, rewrapped = await start_new_version(tenant, settle)
    if on_start:
        on_start(await count_stale(tenant, version))
    n = await reencrypt(tenant, version, batch, on_batch)
    return RotationReport(tenant.slug, version, rewrapped, n)


async def rotate_all(
    tenants: list[TenantRef],
    batch: int = 500,
    on_start: Callable[[str, int], None] | None = None,
    on_batch: Callable[[str, int], None] | None = None,
    settle: float | None = None,
) -> list[RotationReport]:
    """Every tenant gets its new key first, so all of them wait out the key caches once."""
    added = [(t, *await _add_version(t)) for t in tenants]
    await asyncio.sleep(settle_seconds() if settle is None else settle)
    reports = []
    for t, version, rewrapped in added:
        await _activate(t, version)
        if on_start:
            on_start(t.slug, await count_stale(t, version))
        n = await reencrypt(
            t, version, batch, (lambda k, slug=t.slug: on_batch(slug, k)) if on_batch else None
        )
        reports.append(RotationReport(t.slug, version, rewrapped, n))
    return reports


async def ensure_keys(tenant_ids: list[uuid.UUID]) -> int:
    """Give keys to tenants created before field encryption existed."""
    async with public_session() as s:
        have = set((await s.execute(select(TenantKey.tenant_id).distinct())).scalars())
        missing = [t for t in tenant_ids if t not in have]
        for t in missing:
            await fields.provision_keys(s, t)
        await s.commit()
    return len(missing)
