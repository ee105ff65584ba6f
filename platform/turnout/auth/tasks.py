"""Housekeeping actors for auth."""

from __future__ import annotations

from ..broker import run_async, task
from ..db.session import public_session
from . import service


async def purge_expired_now() -> int:
    async with public_session() as session:
        n = await service.purge_expired(session)
        await session.commit()
    return n


@task("auth.purge_expired", max_retries=3)
def purge_expired() -> None:
    """Drop expired web sessions and login failures older than the throttle window."""
    run_async(purge_expired_now())
