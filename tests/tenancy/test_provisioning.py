"""Provisioning through the CLI and the service: schema + migrations + admin in one step."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from tests.cli import turnout
from tests.helpers import PASSWORD, make_tenant
from turnout.db import migrate
from turnout.db.engine import db
from turnout.kit.errors import Conflict, InvalidInput
from turnout.tenancy import service


async def _schemas() -> set[str]:
    async with db.engine().connect() as conn:
        rows = await conn.execute(
            text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'")
        )
        return set(rows.scalars())


async def _count(table: str) -> int:
    async with db.engine().connect() as conn:
        return (await conn.execute(text(f"SELECT count(*) FROM public.{table}"))).scalar_one()


async def test_cli_creates_lists_suspends_tenant(database_url):
    r = turnout(
        "tenants",
        "create",
        "acme",
        "--name",
        "Acme Hospital",
        "--pack",
        "hospital",
        "--admin-email",
        "boss@acme.example",
        "--admin-password",
        PASSWORD,
        "--time-zone",
        "Asia/Shanghai",
        "--locale",
        "zh-CN",
    )
    assert r.returncode == 0, r.stderr
    assert "created tenant acme" in r.stdout
    assert await _schemas() == {"tenant_acme"}
    async with db.engine().connect() as conn:
        version = (
            await conn.execute(text("SELECT version_num FROM tenant_acme.alembic_version"))
        ).scalar_one()
        tables = set(
            (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'tenant_acme'")
                )
            ).scalars()
        )
    assert version == migrate.tenant_head()
    assert "pack_settings" in tables

    listed = turnout("tenants", "list")
    assert listed.returncode == 0
    assert "acme" in listed.stdout and "hospital" in listed.stdout and "active" in listed.stdout

    assert turnout("tenants", "suspend", "acme").returncode == 0
    assert "suspended" in turnout("tenants", "list").stdout
    missing = turnout("tenants", "suspend", "nosuch")
    assert missing.returncode == 1 and "no tenant 'nosuch'" in missing.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Bad-Slug"], "slug: must match"),
        (["a"], "slug: must match"),
        (["9lives"], "slug: must match"),
        (["x" * 41], "slug: must match"),
        (["okslug", "--pack", "spaceship"], "unknown pack 'spaceship'"),
        (["okslug", "--time-zone", "Mars/Olympus"], "unknown time zone"),
    ],
)
def test_cli_rejects_bad_tenant_input(database_url, args, message):
    slug, *rest = args
    r = turnout(
        "tenants",
        "create",
        slug,
        "--name",
        "N",
        "--admin-email",
        "a@b.example",
        "--admin-password",
        PASSWORD,
        *rest,
    )
    assert r.returncode == 1
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_cli_rejects_weak_password_and_creates_nothing(database_url):
    r = turnout(
        "tenants",
        "create",
        "weak",
        "--name",
        "W",
        "--admin-email",
        "a@b.example",
        "--admin-password",
        "password1",
    )
    assert r.returncode == 1
    assert "admin.password" in r.stderr and "commonly used" in r.stderr
    assert "weak" not in turnout("tenants", "list").stdout


async def test_duplicate_slug_is_a_conflict_and_changes_nothing():
    await make_tenant("acme")
    with pytest.raises(Conflict, match="already exists"):
        await make_tenant("acme", admin="other@acme.example")
    assert await _count("tenants") == 1
    assert await _count("users") == 1


async def test_bad_input_reports_every_problem_at_once():
    with pytest.raises(InvalidInput) as exc:
        await service.create_tenant(
            service.NewTenant(
                slug="Nope!",
                name="",
                admin_email="not-an-email",
                admin_password="short",
                packs=["hospital", "zoo"],
                locale="fr",
            )
        )
    fields = {p.field for p in exc.value.problems}
    assert fields == {"slug", "name", "locale", "packs.1", "admin.email", "admin.password"}
    assert await _count("tenants") == 0 and await _schemas() == set()


async def test_failed_provisioning_leaves_nothing_behind(monkeypatch):
    async def broken(conn, tenant):
        await conn.exec_driver_sql(f'CREATE TABLE "{tenant.schema}".half_done (id int)')
        raise RuntimeError("migration exploded")

    monkeypatch.setattr(service, "upgrade_tenant", broken)
    with pytest.raises(RuntimeError, match="exploded"):
        await make_tenant("doomed")
    assert await _schemas() == set()
    assert await _count("tenants") == 0
    assert await _count("users") == 0 and await _count("memberships") == 0


T0002_TABLES = (
    "interviews",
    "slots",
    "availability_exceptions",
    "availability_rules",
    "interviewers",
    "stage_changes",
    "applications",
    "candidates",
    "jobs",
)


async def test_migrate_reports_failing_tenant_and_migrates_the_rest(database_url):
    for slug in ("alpha", "beta", "gamma"):
        await make_tenant(slug)
    async with db.engine().begin() as conn:
        # beta loses its version row but keeps its tables: re-running t0001 must fail.
        await conn.exec_driver_sql("DELETE FROM tenant_beta.alembic_version")
        # alpha is one migration behind: at t0001 without t0002's tables.
        await conn.exec_driver_sql("UPDATE tenant_alpha.alembic_version SET version_num='t0001'")
        later = (
            (
                await conn.execute(
                    text(
                        "SELECT tablename FROM pg_tables WHERE schemaname = 'tenant_alpha' "
                        "AND tablename NOT IN ('pack_settings', 'alembic_version')"
                    )
                )
            )
            .scalars()
            .all()
        )
        assert set(T0002_TABLES) <= set(later)
        for table in later:
            await conn.exec_driver_sql(f"DROP TABLE IF EXISTS tenant_alpha.{table} CASCADE")
        # and the functions later migrations made (the evidence trail's trigger function)
        functions = await conn.execute(
            text(
                "SELECT p.proname FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace "
                "WHERE n.nspname = 'tenant_alpha'"
            )
        )
        for name in functions.scalars().all():
            await conn.exec_driver_sql(f"DROP FUNCTION tenant_alpha.{name} CASCADE")
    r = turnout("migrate", "--concurrency", "2")
    assert r.returncode == 1
    assert "failed: beta" in r.stderr
    assert "migrated 2 of 3 tenants, 1 failed" in r.stderr
    async with db.engine().connect() as conn:
        alpha = (
            await conn.execute(text("SELECT version_num FROM tenant_alpha.alembic_version"))
        ).scalar_one()
    assert alpha == migrate.tenant_head()
    async with db.engine().connect() as conn:
        restored = set(
            (
                await conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = 'tenant_alpha'")
                )
            ).scalars()
        )
    assert set(T0002_TABLES) <= restored


async def test_migrate_all_is_idempotent():
    await make_tenant("alpha")
    seen = []
    outcomes = await service.migrate_all(concurrency=2, on_done=seen.append)
    assert [(o.slug, o.error) for o in outcomes] == [("alpha", None)]
    assert seen == outcomes


def test_cli_schema_print_per_tenant(database_url):
    assert (
        turnout(
            "tenants",
            "create",
            "stmarys",
            "--name",
            "St Mary's",
            "--pack",
            "hospital",
            "--admin-email",
            "a@stmarys.example",
            "--admin-password",
            PASSWORD,
        ).returncode
        == 0
    )
    base = turnout("schema", "print")
    hospital = turnout("schema", "print", "--tenant", "stmarys")
    assert base.returncode == 0 and hospital.returncode == 0
    assert "type Query" in base.stdout and "hospitalSettings" not in base.stdout
    assert "hospitalSettings" in hospital.stdout
    missing = turnout("schema", "print", "--tenant", "nosuch")
    assert missing.returncode == 1 and "no tenant 'nosuch'" in missing.stderr


def test_production_refuses_to_start_without_master_key(database_url):
    r = turnout("tenants", "list", env={"TURNOUT_ENV": "production", "TURNOUT_MASTER_KEY": ""})
    assert r.returncode == 1
    assert "TURNOUT_MASTER_KEY is required" in r.stderr
    bad = turnout("tenants", "list", env={"TURNOUT_MASTER_KEY": "c2hvcnQ="})  # "short"
    assert bad.returncode == 1 and "32 bytes" in bad.stderr
