"""Alembic runners: the public tree once, the tenant tree inside each tenant schema."""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import threading
from concurrent.futures import ProcessPoolExecutor
from functools import lru_cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.pool import NullPool

from .engine import TenantRef


def _project_root() -> Path:
    here = Path(__file__).resolve()
    for candidate in (here.parents[3], Path.cwd()):
        if (candidate / "alembic.ini").exists():
            return candidate
    raise FileNotFoundError("alembic.ini not found next to the project or in the working folder")


@lru_cache
def _ini_path() -> Path:
    return _project_root() / "alembic.ini"


def alembic_config(tenant_schema: str | None = None, connection=None) -> Config:
    cfg = Config(str(_ini_path()))
    cfg.set_main_option("script_location", str(_ini_path().parent / "migrations"))
    cfg.attributes["tenant_schema"] = tenant_schema
    cfg.attributes["connection"] = connection
    return cfg


@lru_cache
def tenant_head() -> str:
    script = ScriptDirectory.from_config(alembic_config())
    return script.get_revision("tenant@head").revision


def _upgrade(sync_conn, target: str, tenant_schema: str | None) -> None:
    command.upgrade(alembic_config(tenant_schema, sync_conn), target)


# Alembic keeps its running context in module globals (`op`, `context`), so two migrations
# must never interleave in one process. The lock spans threads and event loops; waiting
# for it happens off the loop.
_alembic_lock = threading.Lock()


async def _locked_upgrade(conn: AsyncConnection, target: str, schema: str | None) -> None:
    await asyncio.to_thread(_alembic_lock.acquire)
    try:
        await conn.run_sync(_upgrade, target, schema)
    finally:
        _alembic_lock.release()


async def upgrade_public(conn: AsyncConnection) -> None:
    await _locked_upgrade(conn, "public@head", None)


async def upgrade_tenant(conn: AsyncConnection, tenant: TenantRef) -> None:
    await _locked_upgrade(conn, "tenant@head", tenant.schema)


# --- many tenants at once: one process per concurrent migration ----------------------

_sync_engines: dict[str, Engine] = {}


def sync_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def upgrade_tenant_in_process(url: str, schema: str) -> None:
    """Runs in a worker process of `migrate_tenants`: one transaction per tenant."""
    engine = _sync_engines.get(url)
    if engine is None:
        engine = _sync_engines[url] = create_engine(sync_url(url), poolclass=NullPool)
    with engine.begin() as conn:
        _upgrade(conn, "tenant@head", schema)


def process_pool(workers: int) -> ProcessPoolExecutor:
    return ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
