"""The fault test: 2,000 notifications flow while the worker process is killed with SIGKILL
every few seconds and restarted; afterwards every notification was delivered and the sandbox
saw each idempotency key exactly once.

Real processes: `turnout sandbox` (HTTP providers + SMTP) and `dramatiq turnout.worker` on
Redis, SIGKILLed as a process group every 2-4 s (its replacement is started shortly before
each kill). The scheduler loop runs in this process: `service.claim_due` with a 5 s lease
(`tasks.claim`/`tick` take no lease, and the product's 2-minute LEASE would make every killed
worker's claims wait two minutes), then `delivery.send` enqueued per row as `tasks.tick` does.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import delete, func, insert, select

from tests.delivery.conftest import free_port
from tests.helpers import make_tenant
from tests.test_broker import _reachable
from turnout.broker import broker_from_url, use_broker
from turnout.crypto.fields import cipher_for
from turnout.db.session import tenant_session
from turnout.delivery import service as delivery
from turnout.delivery import tasks
from turnout.delivery.models import Notification
from turnout.demo_recruiting import ai_interviews
from turnout.kit.clock import clock

# A Redis database of its own: it is flushed before and after.
REDIS_URL = os.environ.get("TURNOUT_TEST_FAULT_REDIS_URL", "redis://127.0.0.1:6379/14")
CANDIDATES = 400
STEPS = 5  # notifications per interview: 400 x 5 = 2,000
TOTAL = CANDIDATES * STEPS
LEASE = timedelta(seconds=5)
# Claims outstanding at once (queued, lease running). One worker process sends a few dozen
# notifications a second; with a 5 s lease, a deeper backlog would expire in the queue and be
# claimed and enqueued again (see _scheduler).
IN_FLIGHT = 40
TICK = 0.5  # seconds between scheduler passes
KILL_EVERY = (2.0, 4.0)  # seconds between SIGKILLs
BOOT = 1.5  # seconds before a kill that the replacement worker is started
DEADLINE = 300.0  # seconds for the whole flow, once seeded (loaded CI machines are slow)
PYTHON = sys.executable


async def _seed(tenant) -> None:
    """400 candidates (phone only), one AI interview each, and five SMS reminders per
    interview due a minute ago; the interviews' own planned reminders are dropped."""
    now = clock.now()
    async with tenant_session(tenant.ref) as s:
        cipher = await cipher_for(s, tenant.id)
        pairs = await ai_interviews(s, cipher, CANDIDATES, now + timedelta(days=10), "test")
        await s.execute(delete(Notification))
        await s.execute(
            insert(Notification),
            [
                {
                    "id": uuid.uuid4(),
                    "interview_id": iv,
                    "candidate_id": cand,
                    "step": step,
                    "channel": "sms",
                    "kind": "reminder",
                    "condition": "always",
                    "due_at": now - timedelta(minutes=1),
                    "status": "pending",
                    "attempts": 0,
                    "last_error": "",
                }
                for iv, cand in pairs
                for step in range(STEPS)
            ],
        )
        await s.commit()


async def _statuses(tenant) -> Counter:
    async with tenant_session(tenant.ref) as s:
        rows = await s.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        )
        return Counter(dict(rows.all()))


async def _scheduler(tenant, stop: asyncio.Event, enqueued: Counter) -> None:
    """`tasks.tick` with a short lease: claim what is due (or whose lease ran out), enqueue.

    The lease runs from the claim, not from when a worker picks the message up, so the
    product's loop (claim up to 1000 a pass, 2-minute lease) re-enqueues whatever waited in
    the queue longer than the lease. With the 5 s lease used here that would be most of the
    backlog, so this loop only tops the claims up to IN_FLIGHT unexpired ones."""
    while not stop.is_set():
        now = clock.now()
        async with tenant_session(tenant.ref) as s:
            outstanding = await s.scalar(
                select(func.count()).where(
                    Notification.status == "queued", Notification.claimed_until >= now
                )
            )
            ids = []
            if outstanding < IN_FLIGHT:
                ids = await delivery.claim_due(s, now, IN_FLIGHT - outstanding, lease=LEASE)
            await s.commit()
        for nid in ids:
            tasks.send.send(tenant.slug, str(nid))
            enqueued[str(nid)] += 1
        try:
            await asyncio.wait_for(stop.wait(), TICK)
        except TimeoutError:
            pass


async def _errors(tenant) -> Counter:
    """What the rows that are not sent last failed with (for a failing run's message)."""
    async with tenant_session(tenant.ref) as s:
        rows = await s.execute(
            select(Notification.last_error, func.count())
            .where(Notification.status != "sent")
            .group_by(Notification.last_error)
        )
        return Counter(dict(rows.all()))


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            args,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killpg reaches dramatiq's children
        )


def _kill(proc: subprocess.Popen | None, sig: int = signal.SIGKILL) -> None:
    if proc is None:
        return
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.wait(timeout=10)


async def _wait_for_sandbox(url: str, proc: subprocess.Popen, log: Path) -> None:
    async with httpx.AsyncClient(base_url=url, timeout=1.0) as c:
        for _ in range(150):  # up to ~15 s
            if proc.poll() is not None:
                pytest.fail(f"the sandbox exited with {proc.returncode}:\n{_tail(log)}")
            try:
                if (await c.get("/stats")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"the sandbox did not start:\n{_tail(log)}")


def _tail(log: Path, chars: int = 4000) -> str:
    return log.read_text(errors="replace")[-chars:] if log.exists() else "(no log)"


async def test_sigkilled_workers_lose_nothing_and_send_each_key_once(
    database_url, services_required, tmp_path
):
    if not _reachable(REDIS_URL):
        if services_required:
            pytest.fail(f"redis at {REDIS_URL} is required (TURNOUT_REQUIRE_SERVICES=1) but down")
        pytest.skip(f"redis not reachable at {REDIS_URL}")
    tenant = await make_tenant("acme")
    await _seed(tenant)
    assert await _statuses(tenant) == Counter({"pending": TOTAL})

    http_port, smtp_port = free_port(), free_port()
    sandbox_url = f"http://127.0.0.1:{http_port}"
    env = {
        **os.environ,
        "TURNOUT_BROKER_URL": REDIS_URL,
        "TURNOUT_DATABASE_URL": database_url,
        "TURNOUT_MASTER_KEY": os.environ["TURNOUT_MASTER_KEY"],
        "TURNOUT_PROVIDER_URL": sandbox_url,
        "TURNOUT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "PYTHONUNBUFFERED": "1",
    }
    worker_args = [PYTHON, "-m", "dramatiq", "turnout.worker", "--processes", "1", "--threads", "4"]
    smtp_args = ["--smtp-port", str(smtp_port)]
    sandbox_log, worker_log = tmp_path / "sandbox.log", tmp_path / "worker.log"

    broker = use_broker(broker_from_url(REDIS_URL))
    broker.client.flushdb()  # a database of its own: killed workers leave ack sets behind
    sandbox_proc = worker = standby = None
    stop = asyncio.Event()
    enqueued: Counter = Counter()
    scheduler = None
    kills, statuses, elapsed = 0, Counter(), 0.0
    rng = random.Random(20260)
    try:
        sandbox_proc = _spawn(
            [PYTHON, "-m", "turnout", "sandbox", "--port", str(http_port), *smtp_args],
            env,
            sandbox_log,
        )
        await _wait_for_sandbox(sandbox_url, sandbox_proc, sandbox_log)
        started = time.monotonic()
        worker = _spawn(worker_args, env, worker_log)
        scheduler = asyncio.create_task(_scheduler(tenant, stop, enqueued))
        kill_at = started + rng.uniform(*KILL_EVERY)
        while time.monotonic() - started < DEADLINE:
            await asyncio.sleep(0.5)
            if scheduler.done():
                scheduler.result()  # raises what ended the scheduler
            statuses = await _statuses(tenant)
            if statuses["sent"] == TOTAL:
                break
            now = time.monotonic()
            if standby is None and now >= kill_at - BOOT:
                # The replacement boots (imports, connects) while the doomed one still works,
                # so the run is not mostly interpreter start-up.
                standby = _spawn(worker_args, env, worker_log)
            if now >= kill_at:
                _kill(worker)  # SIGKILL mid-flight: no shutdown, no acks, claims left behind
                kills += 1
                worker, standby = standby or _spawn(worker_args, env, worker_log), None
                kill_at = now + rng.uniform(*KILL_EVERY)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        if scheduler is not None:
            await asyncio.gather(scheduler, return_exceptions=True)
        _kill(worker)
        _kill(standby)
        messages, stats = [], {}
        if sandbox_proc is not None:
            with contextlib.suppress(httpx.HTTPError, ValueError):
                async with httpx.AsyncClient(base_url=sandbox_url, timeout=10.0) as c:
                    messages = (await c.get("/messages")).json()
                    stats = (await c.get("/stats")).json()
        _kill(sandbox_proc)
        broker.client.flushdb()
        broker.close()
        use_broker(broker_from_url(None))

    print(
        f"\nfault: {TOTAL} notifications, worker SIGKILLed {kills} times, "
        f"{dict(statuses)} after {elapsed:.1f} s; enqueued {sum(enqueued.values())} times "
        f"({sum(1 for n in enqueued.values() if n > 1)} ids more than once); sandbox: "
        f"{stats.get('requests')} requests, {stats.get('messages')} messages, "
        f"{stats.get('keys_seen_more_than_once')} keys received more than once (de-duplicated)"
    )
    statuses = await _statuses(tenant)
    assert statuses == Counter({"sent": TOTAL}), (
        f"{dict(statuses)} after {elapsed:.0f} s; errors: {await _errors(tenant)}; "
        f"worker log tail:\n{_tail(worker_log)}"
    )
    assert kills >= 3, f"the worker was killed only {kills} times: the test proved little"
    async with tenant_session(tenant.ref) as s:
        ids = {str(i) for i in (await s.execute(select(Notification.id))).scalars()}
    keys = Counter(m["idempotency_key"] for m in messages)
    assert len(messages) == TOTAL
    assert set(keys) == ids  # every notification reached the provider...
    assert max(keys.values()) == 1  # ...exactly once per idempotency key
    assert {m["channel"] for m in messages} == {"sms"}
    assert stats["messages"] == TOTAL and stats["requests"] >= TOTAL
