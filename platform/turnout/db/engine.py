"""Engines per placement, the embedded PostgreSQL, and the only code that names schemas."""

from __future__ import annotations

import asyncio
import logging
import re
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from ..config import Settings
from .base import TENANT_PLACEHOLDER

log = logging.getLogger(__name__)

SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
DEFAULT_PLACEMENT = "default"


@dataclass(frozen=True)
class TenantRef:
    """What a tenant session is bound to. Built by tenancy from the directory row."""

    id: object
    slug: str
    placement: str = DEFAULT_PLACEMENT

    @property
    def schema(self) -> str:
        return schema_name(self.slug)


def schema_name(slug: str) -> str:
    if not SLUG_RE.match(slug):
        raise ValueError(f"not a tenant slug: {slug!r}")
    return f"tenant_{slug}"


def async_url(url: str) -> str:
    """Accept postgresql:// URLs and use asyncpg."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2"):
        u = u.set(drivername="postgresql+asyncpg")
    return u.render_as_string(hide_password=False)


def start_embedded(
    data_dir: Path, database: str = "turnout", cleanup_mode: str | None = None
) -> str:
    """Start (or reuse) the embedded PostgreSQL in data_dir and return a URL to `database`.
    cleanup_mode None leaves it running for the next start; "delete" removes it at exit."""
    import pgserver

    pgdata = (data_dir / "pgdata").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pgserver.get_server(str(pgdata), cleanup_mode=cleanup_mode)
    exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{database}';")
    if "(1 row)" not in exists:
        server.psql(f'CREATE DATABASE "{database}";')
    base = make_url(server.get_uri()).set(database=database)
    return base.render_as_string(hide_password=False)


def _loop_id() -> int:
    try:
        return id(asyncio.get_running_loop())
    except RuntimeError:
        return 0


class Database:
    """Engines by placement name; tenant-bound engines cached per schema."""

    def __init__(self) -> None:
        self._urls: dict[str, str] = {}
        self._engines: dict[tuple[str, int], AsyncEngine] = {}
        self._tenant_engines: dict[tuple[str, str, int], AsyncEngine] = {}
        self.pool_size = 10

    def configure(self, settings: Settings, url: str | None = None) -> None:
        main = url or settings.database_url
        if main is None:
            log.warning("TURNOUT_DATABASE_URL not set: starting the embedded PostgreSQL")
            main = start_embedded(settings.data_dir)
        self._urls = {DEFAULT_PLACEMENT: async_url(main)}
        self._urls.update({k: async_url(v) for k, v in settings.databases.items()})

    @property
    def configured(self) -> bool:
        return bool(self._urls)

    def url(self, placement: str = DEFAULT_PLACEMENT) -> str:
        try:
            return self._urls[placement]
        except KeyError:
            raise LookupError(f"no database placement named {placement!r}") from None

    def placements(self) -> list[str]:
        return list(self._urls)

    def engine(self, placement: str = DEFAULT_PLACEMENT) -> AsyncEngine:
        # Pooled connections belong to the event loop that opened them, so each loop
        # (the server's, each worker thread's) gets its own engine.
        key = (placement, _loop_id())
        eng = self._engines.get(key)
        if eng is None:
            eng = create_async_engine(
                self.url(placement), pool_size=self.pool_size, max_overflow=20, pool_pre_ping=False
            )
            self._engines[key] = eng
        return eng

    def tenant_engine(self, tenant: TenantRef) -> AsyncEngine:
        key = (tenant.placement, tenant.schema, _loop_id())
        eng = self._tenant_engines.get(key)
        if eng is None:
            eng = self.engine(tenant.placement).execution_options(
                schema_translate_map={TENANT_PLACEHOLDER: tenant.schema}
            )
            self._tenant_engines[key] = eng
        return eng

    async def dispose(self) -> None:
        """Close the pools that belong to the running event loop."""
        loop = _loop_id()
        for key in [k for k in self._engines if k[1] == loop]:
            await self._engines.pop(key).dispose()
        for key in [k for k in self._tenant_engines if k[2] == loop]:
            del self._tenant_engines[key]


db = Database()
