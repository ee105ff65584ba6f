"""The fault test: 2,000 notifications flow while the worker process is killed with SIGKILL
every few seconds and restarted; afterwards every notification was delivered and the sandbox
saw each idempotency key exactly once.

Real processes: `turnout sandbox` (HTTP providers + SMTP), `dramatiq turnout.worker` on Redis,
and a scheduler loop in this process that claims due rows with a short lease (the product's
2-minute LEASE would make a killed worker's claims wait two minutes) and enqueues
`delivery.send`, exactly as `tasks.tick` does.
"""

from __future__ import annotations

import asyncio
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
from turnout.kit.clock import clock
from turnout.recruiting import scheduling
from turnout.recruiting import service as recruiting

REDIS_URL = os.environ.get("TURNOUT_TEST_FAULT_REDIS_URL", "redis://127.0.0.1:6379/14")
CANDIDATES = 400
STEPS = 5  # notifications per interview: 400 x 5 = 2,000
TOTAL = CANDIDATES * STEPS
LEASE = timedelta(seconds=5)
CLAIM_LIMIT = 100  # per pass, so the queue never holds more than a lease's worth of work
TICK = 0.5  # seconds between scheduler passes
KILL_EVERY = (2.0, 4.0)  # seconds a worker lives before SIGKILL
DEADLINE = 150.0  # seconds for the whole flow, once seeded
PYTHON = sys.executable


async def _seed(tenant) -> None:
    """400 candidates (phone only), one AI interview each, and five SMS reminders per
    interview due a minute ago; the interviews' own planned reminders are dropped."""
    now = clock.now()
    pairs = []
    async with tenant_session(tenant.ref) as s:
        cipher = await cipher_for(s, tenant.id)
        job = await recruiting.create_job(
            s, recruiting.JobFields(title="Warehouse porter", status="open")
        )
        for i in range(CANDIDATES):
            c = await recruiting.create_candidate(
                s,
                cipher,
                recruiting.CandidateFields(name=f"Candidate {i:03d}", phone=f"1390{i:07d}"),
            )
            app = await recruiting.apply(s, c.id, job.id, 50, "test")
            iv = await scheduling.schedule(
                s,
                cipher,
                scheduling.InterviewRequest(
                    app.id, "ai_async", now + timedelta(days=10), now + timedelta(days=12)
                ),
                "test",
            )
            pairs.append((iv.id, c.id))
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
    """`tasks.tick` with a short lease: claim what is due (or whose lease ran out), enqueue."""
    while not stop.is_set():
        async with tenant_session(tenant.ref) as s:
            ids = await delivery.claim_due(s, clock.now(), CLAIM_LIMIT, lease=LEASE)
            await s.commit()
        for nid in ids:
            tasks.send.send(tenant.slug, str(nid))
            enqueued[str(nid)] += 1
        try:
            await asyncio.wait_for(stop.wait(), TICK)
        except TimeoutError:
            pass


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
                pytest.fail(f"the sandbox exited with {proc.returncode}:\n{log.read_text()}")
            try:
                if (await c.get("/stats")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"the sandbox did not start:\n{log.read_text()}")


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
    worker_args = [PYTHON, "-m", "dramatiq", "turnout.worker", "--processes", "1"]
    worker_args += ["--threads", "4"]
    sandbox_log, worker_log = tmp_path / "sandbox.log", tmp_path / "worker.log"

    broker = use_broker(broker_from_url(REDIS_URL))
    broker.flush_all()
    sandbox_proc = worker = None
    stop = asyncio.Event()
    enqueued: Counter = Counter()
    scheduler = None
    kills, statuses = 0, Counter()
    rng = random.Random(20260)
    started = time.monotonic()
    try:
        sandbox_proc = _spawn(
            [PYTHON, "-m", "turnout", "sandbox", "--port", str(http_port)]
            + ["--smtp-port", str(smtp_port)],
            env,
            sandbox_log,
        )
        await _wait_for_sandbox(sandbox_url, sandbox_proc, sandbox_log)
        worker = _spawn(worker_args, env, worker_log)
        scheduler = asyncio.create_task(_scheduler(tenant, stop, enqueued))
        next_kill = time.monotonic() + rng.uniform(*KILL_EVERY)
        while time.monotonic() - started < DEADLINE:
            await asyncio.sleep(0.25)
            if scheduler.done():
                scheduler.result()  # raises what killed the scheduler
            statuses = await _statuses(tenant)
            if statuses["sent"] == TOTAL:
                break
            if time.monotonic() >= next_kill:
                _kill(worker)  # SIGKILL, mid-flight: no shutdown, no acks
                kills += 1
                worker = _spawn(worker_args, env, worker_log)
                next_kill = time.monotonic() + rng.uniform(*KILL_EVERY)
        elapsed = time.monotonic() - started
    finally:
        stop.set()
        if scheduler is not None:
            await asyncio.gather(scheduler, return_exceptions=True)
        _kill(worker)
        try:
            async with httpx.AsyncClient(base_url=sandbox_url, timeout=10.0) as c:
                messages = (await c.get("/messages")).json() if sandbox_proc else []
                stats = (await c.get("/stats")).json() if sandbox_proc else {}
        except httpx.HTTPError:
            messages, stats = [], {}
        _kill(sandbox_proc)
        broker.flush_all()
        broker.close()
        use_broker(broker_from_url(None))

    statuses = await _statuses(tenant)
    print(
        f"\nfault: {TOTAL} notifications, worker SIGKILLed {kills} times, all sent in "
        f"{elapsed:.1f} s; enqueued {sum(enqueued.values())} times "
        f"({sum(1 for n in enqueued.values() if n > 1)} ids more than once); sandbox: "
        f"{stats.get('requests')} requests, {stats.get('messages')} messages, "
        f"{stats.get('keys_seen_more_than_once')} keys received more than once (de-duplicated)"
    )
    assert statuses == Counter({"sent": TOTAL}), (
        f"{dict(statuses)} after {elapsed:.0f} s; worker log tail:\n"
        + worker_log.read_text()[-3000:]
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
