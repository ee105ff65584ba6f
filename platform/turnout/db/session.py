"""Sessions: public ones, and tenant ones that cannot exist without a TenantRef."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from .engine import TenantRef, db


@asynccontextmanager
async def public_session() -> AsyncIterator[AsyncSession]:
    async with AsyncSession(db.engine(), expire_on_commit=False) as session:
        yield session


@asynccontextmanager
async def tenant_session(tenant: TenantRef) -> AsyncIterator[AsyncSession]:
    async with AsyncSession(db.tenant_engine(tenant), expire_on_commit=False) as session:
        yield session


async def create_schema(conn: AsyncConnection, tenant: TenantRef) -> None:
    await conn.exec_driver_sql(f'CREATE SCHEMA "{tenant.schema}"')


async def drop_schema(conn: AsyncConnection, tenant: TenantRef) -> None:
    await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{tenant.schema}" CASCADE')


def set_local_search_path(sync_conn, schema: str) -> None:
    """Tenant migrations run with the tenant schema first on the path (this transaction only)."""
    sync_conn.exec_driver_sql(f'SET LOCAL search_path TO "{schema}", public')
