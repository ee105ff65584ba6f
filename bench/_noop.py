"""The baseline for bench/delivery.py: a dramatiq actor that does nothing, on its own
RedisBroker (same URL as the delivery run, default middleware), run by
`dramatiq bench._noop` with the same processes and threads as the delivery workers."""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker

QUEUE = "bench_noop"

broker = RedisBroker(url=os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/13"))
dramatiq.set_broker(broker)


@dramatiq.actor(actor_name="bench.noop", queue_name=QUEUE, broker=broker, max_retries=0)
def noop(tenant_slug: str, notification_id: str) -> None:
    """Same arguments as `delivery.send`; does nothing."""
