"""Tenants at scale: creation, migrating all, and whether 200 tenants slow a request.

Each figure is printed beside a baseline measured in the same run:
- tenant creation vs the same schema + tables + rows written by plain SQL in one transaction
  (no alembic, no argon2): what provisioning costs over the bare DDL;
- migrating 200 tenants vs migrating 1 (same migration, from empty);
- a small authenticated query with 200 tenants vs with 1 tenant.

Run: python bench/tenants.py [--tenants 200] [--requests 400]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._db import fresh_database

PASSWORD = "correct horse battery staple"


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


async def query_latency(app, token: str, n: int) -> list[float]:
    import httpx

    transport = httpx.ASGITransport(app=app)
    body = {"query": "{ me { email roles tenant { slug packs } } }"}
    headers = {"Authorization": f"Bearer {token}"}
    out = []
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        for _ in range(20):  # warm-up: schema cache, pools
            await c.post("/graphql", json=body, headers=headers)
        for _ in range(n):
            t = time.perf_counter()
            r = await c.post("/graphql", json=body, headers=headers)
            out.append(time.perf_counter() - t)
            assert r.status_code == 200 and "errors" not in r.json(), r.text
    return out


def tenant_ddl() -> list[str]:
    """The tenant tables' DDL, compiled once from the models (no alembic)."""
    from sqlalchemy.dialects import postgresql
    from sqlalchemy.schema import CreateIndex, CreateTable

    import turnout.delivery.models
    import turnout.recruiting.models
    import turnout.tenancy.models  # noqa: F401
    from turnout.db.base import TenantBase

    dialect = postgresql.dialect()
    out = []
    for table in TenantBase.metadata.sorted_tables:
        out.append(str(CreateTable(table).compile(dialect=dialect)))
        out += [str(CreateIndex(i).compile(dialect=dialect)) for i in table.indexes]
    return out


async def plain_sql_tenant(conn, slug: str, ddl: list[str]) -> None:
    """Baseline: the same schema, tables, directory row and admin rows, by hand."""
    import uuid

    tid, uid = uuid.uuid4(), uuid.uuid4()
    async with conn.transaction():
        await conn.execute(f'CREATE SCHEMA "plain_{slug}"')
        for statement in ddl:
            await conn.execute(statement.replace("tenant.", f'"plain_{slug}".'))
        await conn.execute(
            "INSERT INTO public.tenants (id, slug, name) VALUES ($1, $2, $3)", tid, "p" + slug, slug
        )
        await conn.execute(
            "INSERT INTO public.users (id, email, password_hash) VALUES ($1, $2, 'x')",
            uid,
            f"admin@p{slug}.example",
        )
        await conn.execute(
            "INSERT INTO public.memberships (user_id, tenant_id, roles) "
            "VALUES ($1, $2, '{tenant_admin}')",
            uid,
            tid,
        )


async def reset_tenant_schemas(engine, slugs: list[str]) -> None:
    for s in slugs:  # back to an empty schema: the whole tenant tree runs again
        async with engine.begin() as conn:  # one each: a schema's locks are many
            await conn.exec_driver_sql(f'DROP SCHEMA "tenant_{s}" CASCADE')
            await conn.exec_driver_sql(f'CREATE SCHEMA "tenant_{s}"')


async def main(n_tenants: int, n_requests: int, url: str) -> None:
    import asyncpg

    os.environ.setdefault("TURNOUT_MASTER_KEY", "A" * 43 + "=")
    from turnout.app import create_app
    from turnout.config import Settings
    from turnout.crypto.keys import keyring
    from turnout.db.engine import db
    from turnout.db.migrate import upgrade_public
    from turnout.tenancy import service

    settings = Settings(database_url=url)
    keyring.configure(settings)
    db.configure(settings, url)
    async with db.engine().begin() as conn:
        await upgrade_public(conn)
    app = create_app(settings, configure=False)

    def spec(slug: str) -> service.NewTenant:
        return service.NewTenant(
            slug=slug,
            name=slug,
            admin_email=f"admin@{slug}.example",
            admin_password=PASSWORD,
            packs=["hospital"],
        )

    # --- one tenant: latency baseline ---
    await service.create_tenant(spec("t000"))
    from turnout.auth import service as auth
    from turnout.db.session import public_session

    async with public_session() as s:
        res = await auth.login(s, "admin@t000.example", PASSWORD, "t000", "bench")
        await s.commit()
    token, _ = auth.issue_user_token(res, 60)
    lat_1 = await query_latency(app, token, n_requests)

    # --- creation ---
    creation = []
    for i in range(1, n_tenants):
        t = time.perf_counter()
        await service.create_tenant(spec(f"t{i:03d}"))
        creation.append(time.perf_counter() - t)
    raw = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
    ddl = tenant_ddl()
    plain = []
    for i in range(50):
        t = time.perf_counter()
        await plain_sql_tenant(raw, f"x{i:03d}", ddl)
        plain.append(time.perf_counter() - t)
    for i in range(50):  # the baseline's rows must not look like tenants to migrate_all
        await raw.execute(f'DROP SCHEMA "plain_x{i:03d}" CASCADE')
    await raw.execute("DELETE FROM public.users WHERE email LIKE 'admin@px%'")
    await raw.execute("DELETE FROM public.tenants WHERE slug LIKE 'px%'")
    await raw.close()

    # --- latency with n tenants ---
    lat_n = await query_latency(app, token, n_requests)

    # --- migrating: 1 tenant vs all, each from empty ---
    slugs = [f"t{i:03d}" for i in range(n_tenants)]
    await reset_tenant_schemas(db.engine(), slugs[:1])
    async with db.engine().begin() as conn:  # only t000 needs work: measure it alone
        t = time.perf_counter()
        from turnout.db.migrate import upgrade_tenant

        await upgrade_tenant(conn, (await _ref(slugs[0])))
        one = time.perf_counter() - t
    await reset_tenant_schemas(db.engine(), slugs)
    t = time.perf_counter()
    outcomes = await service.migrate_all(concurrency=2)
    all_ = time.perf_counter() - t
    failed = [o for o in outcomes if o.error]
    assert not failed, failed[:3]
    await db.dispose()

    ms = 1000
    cm, pm = statistics.mean(creation) * ms, statistics.mean(plain) * ms
    print(
        f"tenant creation: {cm:.1f} ms/tenant (p50 {pct(creation, 50) * ms:.1f}, "
        f"p99 {pct(creation, 99) * ms:.1f}) vs plain SQL {pm:.1f} ms/tenant "
        f"-> ratio {cm / pm:.1f}x  [{len(creation)} tenants; includes argon2id of the admin]"
    )
    print(
        f"migrate all {n_tenants} tenants: {all_:.2f} s vs 1 tenant {one * ms:.1f} ms "
        f"-> {all_ / one:.0f}x for {n_tenants}x the tenants "
        f"({all_ / n_tenants * ms:.1f} ms/tenant, 2 processes, incl. process start)"
    )
    p50_1, p50_n = pct(lat_1, 50) * ms, pct(lat_n, 50) * ms
    print(
        f"small authenticated query: p50 {p50_n:.2f} ms / p99 {pct(lat_n, 99) * ms:.2f} ms "
        f"with {n_tenants} tenants vs p50 {p50_1:.2f} ms / p99 {pct(lat_1, 99) * ms:.2f} ms "
        f"with 1 -> ratio {p50_n / p50_1:.2f}"
    )


async def _ref(slug: str):
    from turnout.db.session import public_session
    from turnout.tenancy import service

    async with public_session() as s:
        return (await service.tenant_by_slug(s, slug)).ref


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--tenants", type=int, default=200)
    ap.add_argument("--requests", type=int, default=400)
    args = ap.parse_args()
    url, drop = fresh_database()
    try:
        asyncio.run(main(args.tenants, args.requests, url))
    finally:
        drop()
