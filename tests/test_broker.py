"""Actors run on the real brokers (Redis and RabbitMQ) named by TURNOUT_BROKER_URL."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import timedelta

import pytest
from dramatiq import Worker
from sqlalchemy import func, select

from tests.helpers import make_tenant
from turnout.auth import service as auth
from turnout.auth import tasks as auth_tasks
from turnout.auth.models import WebSession
from turnout.broker import broker_from_url, use_broker
from turnout.db.session import public_session
from turnout.kit.clock import clock

BROKERS = {
    "redis": os.environ.get("TURNOUT_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    "rabbitmq": os.environ.get("TURNOUT_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/"),
}


def _reachable(url: str) -> bool:
    from urllib.parse import urlparse

    u = urlparse(url)
    try:
        with socket.create_connection((u.hostname, u.port), timeout=2):
            return True
    except OSError:
        return False


@pytest.mark.parametrize("kind", sorted(BROKERS))
async def test_actor_runs_on_real_broker(kind, services_required):
    url = BROKERS[kind]
    if not _reachable(url):
        if services_required:
            pytest.fail(f"{kind} at {url} is required (TURNOUT_REQUIRE_SERVICES=1) but down")
        pytest.skip(f"{kind} not reachable at {url}")
    await make_tenant("acme")
    async with public_session() as s:
        res = await auth.login(
            s, "admin@acme.example", "correct horse battery staple", "acme", "10.0.0.1"
        )
        await auth.open_web_session(s, res, "10.0.0.1", hours=1)
        await s.commit()
    broker = use_broker(broker_from_url(url))
    broker.flush_all()
    worker = Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        clock.freeze(clock.now() + timedelta(hours=2))  # the session has expired by then
        # The actor runs with the frozen clock: same process.
        auth_tasks.purge_expired.send()
        await asyncio.to_thread(broker.join, auth_tasks.purge_expired.queue_name, timeout=20_000)
        await asyncio.to_thread(worker.join)
    finally:
        worker.stop()
        broker.close()
        use_broker(broker_from_url(None))
    async with public_session() as s:
        assert await s.scalar(select(func.count()).select_from(WebSession)) == 0


def test_broker_url_must_be_redis_or_amqp():
    with pytest.raises(ValueError, match="redis:// or amqp://"):
        broker_from_url("kafka://somewhere")
