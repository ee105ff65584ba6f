"""The dramatiq broker: Redis or RabbitMQ from TURNOUT_BROKER_URL, else in-process (stub).

Actors are declared with `task(...)` so that they can be re-bound when the broker is
chosen after import (tests, `turnout serve`)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

import dramatiq
import uvloop
from dramatiq.brokers.stub import StubBroker

T = TypeVar("T")
_actors: list[dramatiq.Actor] = []
_local = threading.local()


def broker_from_url(url: str | None) -> dramatiq.Broker:
    if not url:
        return StubBroker()
    if url.startswith(("redis://", "rediss://")):
        from dramatiq.brokers.redis import RedisBroker

        return RedisBroker(url=url)
    if url.startswith(("amqp://", "amqps://")):
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        return RabbitmqBroker(url=url)
    raise ValueError("TURNOUT_BROKER_URL must start with redis:// or amqp://")


def task(name: str, **options) -> Callable[[Callable], dramatiq.Actor]:
    """`@task("domain.verb")`: a dramatiq actor that follows `use_broker`."""

    def decorate(fn: Callable) -> dramatiq.Actor:
        actor = dramatiq.actor(fn, actor_name=name, broker=_broker[0], **options)
        _actors.append(actor)
        return actor

    return decorate


def run_async(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from an actor on this thread's own, long-lived event loop."""
    loop = getattr(_local, "loop", None)
    if loop is None:  # uvloop: the same work for a good deal less CPU than asyncio's own loop
        loop = _local.loop = uvloop.new_event_loop()
    return loop.run_until_complete(coro)


def use_broker(broker: dramatiq.Broker) -> dramatiq.Broker:
    _broker[0] = broker
    dramatiq.set_broker(broker)
    for actor in _actors:
        actor.broker = broker
        broker.declare_actor(actor)
    return broker


# Until configured, an in-process broker: dramatiq's implicit default would be RabbitMQ.
_broker: list[dramatiq.Broker] = [StubBroker()]
dramatiq.set_broker(_broker[0])
