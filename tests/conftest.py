"""Test set-up: a fresh database on the real PostgreSQL (TURNOUT_TEST_DATABASE_URL, else an
embedded one), public schema migrated once, every test starting from a clean state."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url

from turnout.crypto.keys import generate_master_key

_TMP = Path(tempfile.mkdtemp(prefix="turnout-test-"))
os.environ.update(
    {
        "TURNOUT_ENV": "development",
        "TURNOUT_MASTER_KEY": generate_master_key(),
        "TURNOUT_DATA_DIR": str(_TMP),
        "TURNOUT_RUN_SCHEDULER": "false",  # tests run scheduler passes themselves
    }
)
os.environ.pop("TURNOUT_BROKER_URL", None)

from turnout.config import Settings, get_settings  # noqa: E402
from turnout.crypto.keys import keyring  # noqa: E402
from turnout.db.engine import db, start_embedded  # noqa: E402
from turnout.db.migrate import upgrade_public  # noqa: E402
from turnout.kit.clock import clock  # noqa: E402

PASSWORD = "correct horse battery staple"
REQUIRE_SERVICES = os.environ.get("TURNOUT_REQUIRE_SERVICES") == "1"


def _server_url() -> str:
    url = os.environ.get("TURNOUT_TEST_DATABASE_URL")
    if url:
        return url
    return start_embedded(_TMP / "embedded", database="postgres", cleanup_mode="delete")


def _create_database() -> str:
    """A new, empty database on the test server; its URL."""
    import psycopg

    base = make_url(_server_url()).set(drivername="postgresql")
    name = f"turnout_test_{uuid.uuid4().hex[:8]}"
    admin = base.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["TURNOUT_TEST_DATABASE_NAME"] = name
    return base.set(database=name).render_as_string(hide_password=False)


def _drop_database(url: str) -> None:
    import psycopg

    u = make_url(url)
    admin = u.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{u.database}" WITH (FORCE)')


@pytest.fixture(scope="session")
def database_url() -> str:
    url = _create_database()
    os.environ["TURNOUT_DATABASE_URL"] = url
    get_settings.cache_clear()
    yield url
    _drop_database(url)


@pytest.fixture(scope="session")
async def setup_db(database_url: str):
    settings = get_settings()
    keyring.configure(settings)
    db.configure(settings, database_url)
    async with db.engine().begin() as conn:
        await upgrade_public(conn)
    yield
    await db.dispose()


@pytest.fixture(autouse=True)
async def clean_state(setup_db):
    yield
    clock.unfreeze()
    async with db.engine().begin() as conn:
        schemas = (
            (
                await conn.execute(
                    text("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'tenant\\_%'")
                )
            )
            .scalars()
            .all()
        )
        for s in schemas:
            await conn.exec_driver_sql(f'DROP SCHEMA "{s}" CASCADE')
        await conn.exec_driver_sql(
            "TRUNCATE public.login_failures, public.web_sessions, public.oauth_clients, "
            "public.memberships, public.users, public.tenants CASCADE"
        )


@pytest.fixture
def settings() -> Settings:
    return get_settings()


@pytest.fixture
def app(settings):
    from turnout.app import create_app

    return create_app(settings, configure=False)


@pytest.fixture
async def client(app):
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        yield c


@pytest.fixture
def services_required() -> bool:
    return REQUIRE_SERVICES
