"""Tenant directory, provisioning (schema + migrations in one transaction), packs, migrate-all."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..auth import service as auth
from ..crypto.fields import provision_keys
from ..crypto.rotation import ensure_keys
from ..db.engine import DEFAULT_PLACEMENT, SLUG_RE, db
from ..db.migrate import (
    process_pool,
    upgrade_public,
    upgrade_tenant,
    upgrade_tenant_in_process,
)
from ..db.session import create_schema, public_session
from ..evidence import keys as evidence_keys
from ..evidence import service as evidence
from ..kit.errors import Conflict, FieldProblem, InvalidInput, NotFound, invalid
from ..kit.pagination import decode_cursor, page_size
from ..kit.timezones import valid_time_zone
from ..rules.registry import check_pack_names, get_pack
from .models import PackSetting, Tenant

LOCALES = ("en", "zh-CN")


@dataclass
class NewTenant:
    slug: str
    name: str
    admin_email: str
    admin_password: str
    packs: list[str]
    time_zone: str = "UTC"
    locale: str = "en"
    placement: str = DEFAULT_PLACEMENT


def check_new_tenant(spec: NewTenant) -> list[str]:
    """Validates everything that needs no database; returns the normalized pack list."""
    problems: list[FieldProblem] = []
    if not SLUG_RE.match(spec.slug):
        problems.append(
            FieldProblem(
                "slug",
                "must match [a-z][a-z0-9_]{1,39}: lowercase letter first, then lowercase "
                "letters, digits or _ (2-40 characters)",
            )
        )
    if not spec.name.strip() or len(spec.name) > 200:
        problems.append(FieldProblem("name", "must be 1-200 characters"))
    if not valid_time_zone(spec.time_zone):
        problems.append(FieldProblem("timeZone", f"unknown time zone {spec.time_zone!r}"))
    if spec.locale not in LOCALES:
        problems.append(FieldProblem("locale", f"must be one of {', '.join(LOCALES)}"))
    if spec.placement not in db.placements():
        problems.append(FieldProblem("placement", f"no database placement {spec.placement!r}"))
    packs: list[str] = []
    try:
        packs = check_pack_names(spec.packs)
    except InvalidInput as exc:
        problems += exc.problems
    try:
        auth.check_new_user(spec.admin_email, spec.admin_password, ["tenant_admin"], "admin.")
    except InvalidInput as exc:
        problems += exc.problems
    if problems:
        raise InvalidInput(problems=problems)
    return packs


async def create_tenant(spec: NewTenant) -> Tenant:
    """Directory row, schema, migrations and first admin, all in one transaction."""
    packs = check_new_tenant(spec)
    async with db.engine(spec.placement).connect() as conn:
        async with conn.begin():
            session = AsyncSession(bind=conn, expire_on_commit=False)
            if await session.scalar(select(Tenant.id).where(Tenant.slug == spec.slug)):
                raise Conflict(f"a tenant with slug {spec.slug!r} already exists", "slug")
            tenant = Tenant(
                id=uuid.uuid4(),
                slug=spec.slug,
                name=spec.name.strip(),
                time_zone=spec.time_zone,
                locale=spec.locale,
                packs=packs,
                placement=spec.placement,
                status="active",
            )
            session.add(tenant)
            try:
                await session.flush()
            except IntegrityError as exc:  # lost a race for the slug
                raise Conflict(f"a tenant with slug {spec.slug!r} already exists", "slug") from exc
            await provision_keys(session, tenant.id)
            await evidence_keys.provision(session, tenant.id)
            await create_schema(conn, tenant.ref)
            await upgrade_tenant(conn, tenant.ref)
            await auth.add_member(
                session, tenant, spec.admin_email, ["tenant_admin"], spec.admin_password
            )
            await session.flush()
    return tenant


async def tenant_by_slug(session: AsyncSession, slug: str) -> Tenant:
    tenant = (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()
    if tenant is None:
        raise NotFound(f"no tenant {slug!r}", "slug")
    return tenant


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    return list((await session.execute(select(Tenant).order_by(Tenant.slug))).scalars())


async def tenant_page(
    session: AsyncSession, first: int | None, after: str | None
) -> tuple[list[Tenant], bool, int]:
    """A page of the directory ordered by slug; (rows, has_next, total)."""
    n = page_size(first)
    stmt = select(Tenant).order_by(Tenant.slug).limit(n + 1)
    if after:
        stmt = stmt.where(Tenant.slug > decode_cursor(after, 1)[0])
    rows = list((await session.execute(stmt)).scalars())
    total = await session.scalar(select(func.count()).select_from(Tenant))
    return rows[:n], len(rows) > n, int(total or 0)


async def set_status(session: AsyncSession, slug: str, status: str) -> Tenant:
    tenant = await tenant_by_slug(session, slug)
    tenant.status = status
    await session.flush()
    return tenant


async def set_packs(session: AsyncSession, slug: str, packs: list[str]) -> Tenant:
    names = check_pack_names(packs)
    tenant = await tenant_by_slug(session, slug)
    tenant.packs = names
    await session.flush()
    return tenant


# --- pack settings (tenant schema) ---------------------------------------------------


@dataclass
class SettingValue:
    key: str
    value: Any
    default: Any
    description: str
    overridden: bool


async def pack_settings(session: AsyncSession, tenant: Tenant, pack: str) -> list[SettingValue]:
    if pack not in tenant.packs:
        raise invalid("pack", f"pack {pack!r} is not enabled for this tenant")
    spec = get_pack(pack)
    rows = await session.execute(select(PackSetting).where(PackSetting.pack == pack))
    overrides = {r.key: r.value for r in rows.scalars()}
    return [
        SettingValue(k, overrides.get(k, s.default), s.default, s.description, k in overrides)
        for k, s in spec.settings.items()
    ]


async def set_pack_setting(
    session: AsyncSession,
    tenant: Tenant,
    pack: str,
    key: str,
    value: Any,
    actor_id: uuid.UUID | None,
    actor: str = "system",
) -> SettingValue:
    if pack not in tenant.packs:
        raise invalid("pack", f"pack {pack!r} is not enabled for this tenant")
    spec = get_pack(pack).settings.get(key)
    if spec is None:
        raise invalid("key", f"pack {pack!r} has no setting {key!r}", "unknown")
    spec.check(value)
    row = await session.get(PackSetting, (pack, key))
    before = None if row is None else row.value
    if row is None:
        session.add(PackSetting(pack=pack, key=key, value=value, updated_by=actor_id))
    else:
        row.value, row.updated_by = value, actor_id
    await session.flush()
    # On the tenant's own chain: which rules were in force when, and who changed them.
    await evidence.record(
        session,
        "pack_settings.changed",
        {"pack": pack, "key": key, "value": _plain(value), "previous": _plain(before)},
        actor=evidence.as_actor(actor),
    )
    return SettingValue(key, value, spec.default, spec.description, True)


def _plain(value: Any) -> Any:
    """A setting's value as the trail can hash it: numbers that are not integers as text."""
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    return value


# --- migrate everything --------------------------------------------------------------


@dataclass
class MigrationOutcome:
    slug: str
    error: str | None = None


async def migrate_all(
    concurrency: int = 4,
    on_done: Callable[[MigrationOutcome], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> list[MigrationOutcome]:
    """Public first, then every tenant schema, `concurrency` processes at a time; a failing
    tenant is reported and the others still migrate."""
    async with db.engine().begin() as conn:
        await upgrade_public(conn)
    async with public_session() as session:
        tenants = await list_tenants(session)
    await ensure_keys([t.id for t in tenants])
    if on_start:
        on_start(len(tenants))
    if not tenants:
        return []
    loop = asyncio.get_running_loop()

    async def one(pool, tenant: Tenant) -> MigrationOutcome:
        try:
            await loop.run_in_executor(
                pool, upgrade_tenant_in_process, db.url(tenant.placement), tenant.ref.schema
            )
            return MigrationOutcome(tenant.slug)
        except Exception as exc:  # reported per tenant; the others still migrate
            return MigrationOutcome(tenant.slug, f"{type(exc).__name__}: {exc}")

    outcomes: list[MigrationOutcome] = []
    with process_pool(min(concurrency, len(tenants))) as pool:
        for next_done in asyncio.as_completed([one(pool, t) for t in tenants]):
            outcome = await next_done
            outcomes.append(outcome)
            if on_done:
                on_done(outcome)
    return sorted(outcomes, key=lambda o: o.slug)
