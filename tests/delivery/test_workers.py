"""The delivery actor on the real brokers: the scheduler enqueues, a dramatiq worker sends."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from dramatiq import Worker
from sqlalchemy import select

from tests.test_broker import BROKERS, _reachable
from turnout.broker import broker_from_url, use_broker
from turnout.db.session import tenant_session
from turnout.delivery import tasks
from turnout.delivery.models import Notification
from turnout.kit.clock import clock


@pytest.mark.parametrize("kind", sorted(BROKERS))
async def test_worker_sends_what_the_scheduler_enqueued(
    kind,
    provider,
    world,
    services_required,
):
    url = BROKERS[kind]
    if not _reachable(url):
        if services_required:
            pytest.fail(f"{kind} at {url} is required (TURNOUT_REQUIRE_SERVICES=1) but down")
        pytest.skip(f"{kind} not reachable at {url}")
    broker = use_broker(broker_from_url(url))
    broker.flush_all()
    worker = Worker(broker, worker_threads=2, worker_timeout=100)
    worker.start()
    try:
        at = world["opens"] - timedelta(days=2, minutes=-1)
        clock.freeze(at)
        assert await tasks.tick(at) == 2  # enqueued, not sent here
        await asyncio.to_thread(broker.join, tasks.send.queue_name, timeout=30_000)
        await asyncio.to_thread(worker.join)
    finally:
        worker.stop()
        broker.close()
        use_broker(broker_from_url(None))
    assert sorted(m["channel"] for m in provider.messages) == ["email", "sms"]
    async with tenant_session(world["tenant"].ref) as s:
        sent = (
            (
                await s.execute(
                    select(Notification.status).where(
                        Notification.step == 0, Notification.kind == "reminder"
                    )
                )
            )
            .scalars()
            .all()
        )
    assert sorted(sent) == ["sent", "sent"]
