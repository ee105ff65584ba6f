"""Delivery end to end, beside a no-op dramatiq actor on the same broker, in the same run.

1. Throughput: N notifications due now go outbox -> broker -> actor -> sandbox -> receipt
   recorded (the sandbox posts a signed "delivered" callback to `turnout serve`, which marks
   the row `delivered`). The scheduler pass is the product's (`delivery.tasks.tick`, run in
   this process), the workers are `dramatiq turnout.worker` subprocesses, the providers
   `turnout sandbox`. Measured from the first enqueue to the last `delivered_at`.
   Baseline: the same number of messages through a bare no-op actor
   (bench/_noop.py) on the same Redis, same processes and threads, from the first enqueue
   until the queue is drained (broker.join). Target: ratio >= 0.5.
2. Lateness: R reminders all due at the same instant T (a few seconds ahead), the scheduler
   passing every --interval s; lateness = sent_at - due_at. Target: p99 < 5 s.

Each phase is bounded (--phase-seconds); what is not sent by then is reported as such, and
percentiles that include unsent rows are lower bounds (">=").

Run: python bench/delivery.py [--notifications 3000] [--reminders 10000]
     [--processes 2] [--threads 4] [--broker redis://127.0.0.1:6379/13]
(the broker's Redis database is the bench's own: it is flushed before and after)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._db import fresh_database

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
SLUG = "deliverybench"
PASSWORD = "correct horse battery staple"
CANDIDATES = 1000


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Procs:
    """Subprocesses in their own process groups (dramatiq forks workers), logged to files,
    killed group by group."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env, self.logs, self.running = env, logs, []

    def start(self, name: str, args: list[str], **env: str) -> tuple[subprocess.Popen, Path]:
        log = self.logs / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                args,
                cwd=ROOT,
                env={**self.env, **env},
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.running.append(proc)
        return proc, log

    def stop(self, proc: subprocess.Popen) -> None:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=10)
                break
            except subprocess.TimeoutExpired:
                continue
        with contextlib.suppress(ValueError):
            self.running.remove(proc)

    def stop_all(self) -> None:
        for proc in list(self.running):
            self.stop(proc)


def wait_for_log(proc: subprocess.Popen, log: Path, text: str, count: int, seconds: float):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{log.name}: exited {proc.returncode}\n{log.read_text()[-3000:]}")
        if log.read_text(errors="replace").count(text) >= count:
            return
        time.sleep(0.1)
    raise SystemExit(f"{log.name}: no {count} x {text!r} in {seconds} s\n{log.read_text()[-3000:]}")


def wait_for_http(url: str, proc: subprocess.Popen, log: Path) -> None:
    import httpx

    for _ in range(200):
        if proc.poll() is not None:
            raise SystemExit(f"sandbox exited {proc.returncode}\n{log.read_text()[-3000:]}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{url}/stats", timeout=1).status_code == 200:
                return
        time.sleep(0.1)
    raise SystemExit("the sandbox did not start")


def sandbox_stats(url: str) -> dict:
    import httpx

    return httpx.get(f"{url}/stats", timeout=10).json()


# --- data ------------------------------------------------------------------------------


async def seed(tenant) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """CANDIDATES candidates (phone only), one AI interview each; their planned reminders
    are dropped: each phase writes its own rows. Returns (interview, candidate) pairs."""
    from sqlalchemy import delete

    from turnout.crypto.fields import cipher_for
    from turnout.db.session import tenant_session
    from turnout.delivery.models import Notification
    from turnout.demo_recruiting import ai_interviews

    async with tenant_session(tenant.ref) as s:
        cipher = await cipher_for(s, tenant.id)
        opens = datetime.now(UTC) + timedelta(days=10)
        pairs = await ai_interviews(s, cipher, CANDIDATES, opens, "bench")
        await s.execute(delete(Notification))
        await s.commit()
    return pairs


async def write_due(tenant, pairs, n: int, due_at: datetime) -> None:
    """n SMS reminders due at `due_at`, spread over the interviews; the outbox emptied first."""
    from sqlalchemy import delete, insert

    from turnout.db.session import tenant_session
    from turnout.delivery.models import Notification

    rows = [
        {
            "id": uuid.uuid4(),
            "interview_id": pairs[i % len(pairs)][0],
            "candidate_id": pairs[i % len(pairs)][1],
            "step": i // len(pairs),
            "channel": "sms",
            "kind": "reminder",
            "condition": "always",
            "due_at": due_at,
            "status": "pending",
            "attempts": 0,
            "last_error": "",
        }
        for i in range(n)
    ]
    async with tenant_session(tenant.ref) as s:
        await s.execute(delete(Notification))
        for start in range(0, n, 2000):
            await s.execute(insert(Notification), rows[start : start + 2000])
        await s.commit()


async def status_counts(tenant) -> dict[str, int]:
    from sqlalchemy import func, select

    from turnout.db.session import tenant_session
    from turnout.delivery.models import Notification

    async with tenant_session(tenant.ref) as s:
        rows = await s.execute(
            select(Notification.status, func.count()).group_by(Notification.status)
        )
        return dict(rows.all())


async def sent_times(tenant, column: str = "sent_at") -> list[tuple[datetime, datetime | None]]:
    from sqlalchemy import select

    from turnout.db.session import tenant_session
    from turnout.delivery.models import Notification

    async with tenant_session(tenant.ref) as s:
        rows = await s.execute(select(Notification.due_at, getattr(Notification, column)))
        return list(rows.all())


class Scheduler:
    """The product's scheduler pass (`tasks.tick`: every active tenant, limit 1000, the
    2-minute lease) every `interval` seconds, counting what it enqueued."""

    def __init__(self, interval: float) -> None:
        self.interval, self.enqueued, self.first = interval, 0, None
        self.stop = asyncio.Event()

    async def run(self) -> None:
        from turnout.delivery import tasks

        while not self.stop.is_set():
            at = datetime.now(UTC)
            n = await tasks.tick()
            if n and self.first is None:
                self.first = at  # the pass that made the first enqueue started here
            self.enqueued += n
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop.wait(), self.interval)


async def drive(
    tenant, total: int, interval: float, seconds: float, until: tuple[str, ...] = ("sent",)
) -> tuple[Scheduler, dict]:
    """Run the scheduler until every row reached one of `until` (or `seconds` pass); final
    status counts."""
    sched = Scheduler(interval)
    task = asyncio.create_task(sched.run())
    deadline = time.monotonic() + seconds
    counts: dict[str, int] = {}
    try:
        while time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            if task.done():
                task.result()
            counts = await status_counts(tenant)
            if sum(counts.get(s, 0) for s in until) >= total:
                break
    finally:
        sched.stop.set()
        await asyncio.gather(task, return_exceptions=True)
    return sched, await status_counts(tenant)


# --- phases ------------------------------------------------------------------------------


async def provider_ceiling(url: str, n: int) -> float:
    """Bare SMS posts to the sandbox from this process (aiohttp, 64 at a time, no database, no
    broker): how many requests a second the provider side takes on this machine at most."""
    import aiohttp

    gate = asyncio.Semaphore(64)
    async with aiohttp.ClientSession() as http:

        async def one(i: int) -> None:
            async with gate:
                form = {"To": f"+86139{i:08d}", "From": "+10000000000", "Body": "ceiling"}
                headers = {"I-Twilio-Idempotency-Token": f"ceiling-{i}"}
                path = "/2010-04-01/Accounts/AC/Messages.json"
                async with http.post(url + path, data=form, headers=headers) as r:
                    await r.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return n / (time.perf_counter() - t0)


def noop_rate(procs: Procs, broker_url: str, n: int, workers: list[str], seconds: float):
    """Messages per second through the bare no-op actor: first enqueue -> queue drained."""
    from dramatiq.errors import QueueJoinTimeout

    from bench import _noop

    proc, log = procs.start("noop-worker", [PYTHON, "-m", "dramatiq", "bench._noop", *workers])
    try:
        wait_for_log(proc, log, "ready for action", int(workers[1]), 60)
        for i in range(50):  # warm-up, as the delivery workers get
            _noop.noop.send(SLUG, f"warm-{i}")
        _noop.broker.join(_noop.QUEUE, interval=20, timeout=30_000)
        t0 = time.perf_counter()
        for i in range(n):
            _noop.noop.send(SLUG, str(uuid.UUID(int=i)))
        enqueued = time.perf_counter() - t0
        try:
            _noop.broker.join(_noop.QUEUE, interval=20, timeout=int(seconds * 1000))
        except QueueJoinTimeout:
            raise SystemExit(f"the no-op queue was not drained in {seconds} s") from None
        took = time.perf_counter() - t0
    finally:
        procs.stop(proc)
    return n / took, took, enqueued


async def main(args: argparse.Namespace, url: str, logs: Path) -> None:
    os.environ.setdefault("TURNOUT_MASTER_KEY", "A" * 43 + "=")
    from turnout.broker import broker_from_url, use_broker
    from turnout.config import Settings, get_settings
    from turnout.crypto.keys import keyring
    from turnout.db.engine import db
    from turnout.db.migrate import upgrade_public
    from turnout.tenancy import service

    http_port, smtp_port, app_port = free_port(), free_port(), free_port()
    env = {
        **os.environ,
        "TURNOUT_ENV": "development",
        "TURNOUT_DATABASE_URL": url,
        "TURNOUT_BROKER_URL": args.broker,
        "TURNOUT_PROVIDER_URL": f"http://127.0.0.1:{http_port}",
        "TURNOUT_SMTP_URL": f"smtp://127.0.0.1:{smtp_port}",
        "TURNOUT_PUBLIC_URL": f"http://127.0.0.1:{app_port}",
        "TURNOUT_RUN_SCHEDULER": "false",  # the bench's own scheduler passes are measured
        "TURNOUT_DATA_DIR": str(logs),
        "BENCH_BROKER_URL": args.broker,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        "PYTHONUNBUFFERED": "1",
    }
    os.environ.update({k: env[k] for k in ("TURNOUT_BROKER_URL", "BENCH_BROKER_URL")})
    get_settings.cache_clear()
    settings = Settings(database_url=url, broker_url=args.broker)
    keyring.configure(settings)
    db.configure(settings, url)
    async with db.engine().begin() as conn:
        await upgrade_public(conn)
    tenant = await service.create_tenant(
        service.NewTenant(
            slug=SLUG,
            name="Delivery bench",
            admin_email=f"admin@{SLUG}.example",
            admin_password=PASSWORD,
            packs=[],
        )
    )
    t = time.perf_counter()
    pairs = await seed(tenant)
    print(f"(seeded {len(pairs)} candidates and interviews in {time.perf_counter() - t:.1f} s)")

    broker = use_broker(broker_from_url(args.broker))
    broker.client.flushdb()
    procs = Procs(env, logs)
    workers = ["--processes", str(args.processes), "--threads", str(args.threads)]
    smtp_args = ["--smtp-port", str(smtp_port)]
    sandbox_url = f"http://127.0.0.1:{http_port}"
    try:
        # --- baseline: the no-op actor ---
        noop, noop_took, noop_enq = noop_rate(
            procs, args.broker, args.notifications, workers, args.phase_seconds
        )
        broker.flush_all()

        quick = ["--receipt-delay", "0", "--read-rate", "0"]  # a receipt right away
        sandbox, sb_log = procs.start(
            "sandbox",
            [PYTHON, "-m", "turnout", "sandbox", "--port", str(http_port), *smtp_args, *quick],
        )
        wait_for_http(sandbox_url, sandbox, sb_log)
        server, server_log = procs.start(  # where the receipts are recorded
            "serve", [PYTHON, "-m", "turnout", "serve", "--port", str(app_port)]
        )
        wait_for_log(server, server_log, "Application startup complete", 1, 60)
        ceiling = await provider_ceiling(sandbox_url, args.notifications)
        worker, w_log = procs.start(
            "worker", [PYTHON, "-m", "dramatiq", "turnout.worker", *workers]
        )
        wait_for_log(worker, w_log, "ready for action", args.processes, 60)

        # warm-up: every worker thread opens its pools and unwraps the tenant key once
        await write_due(tenant, pairs, 50, datetime.now(UTC) - timedelta(seconds=1))
        await drive(tenant, 50, args.interval, 60, ("delivered",))

        # --- 1. end to end ---
        n = args.notifications
        await write_due(tenant, pairs, n, datetime.now(UTC) - timedelta(seconds=1))
        sched, counts = await drive(tenant, n, args.interval, args.phase_seconds, ("delivered",))
        times = await sent_times(tenant, "delivered_at")
        sent = [s for _, s in times if s is not None]
        if len(sent) == n:
            took = (max(sent) - sched.first).total_seconds()
            rate, cut = n / took, ""
        else:
            took = args.phase_seconds
            rate = len(sent) / took
            cut = f" [cut off at {took:.0f} s with {n - len(sent)} without receipt: {counts}]"
        print(
            f"delivery end to end: {rate:.1f} notifications/s vs no-op actor {noop:.1f} msg/s "
            f"-> ratio {rate / noop:.2f} (target >= 0.5){cut}"
        )
        print(
            f"  ({n} notifications in {took:.1f} s, enqueued {sched.enqueued} times; no-op: "
            f"{n} messages in {noop_took:.2f} s, of which enqueueing {noop_enq:.2f} s; "
            f"{args.processes} processes x {args.threads} threads, Redis)"
        )
        print(
            f"  (for scale: bare POSTs to the sandbox, no database or broker: {ceiling:.1f} req/s "
            f"-> delivery is {rate / ceiling:.2f} of what the provider side alone takes)"
        )

        # --- 2. lateness: R reminders due at the same instant ---
        r = args.reminders
        before = sandbox_stats(sandbox_url)
        due = datetime.now(UTC) + timedelta(seconds=10)
        await write_due(tenant, pairs, r, due)
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds() - 2))
        sched, counts = await drive(
            tenant, r, args.interval, args.phase_seconds, ("sent", "delivered")
        )
        cutoff = datetime.now(UTC)
        times = await sent_times(tenant)
        late = [((s or cutoff) - d).total_seconds() for d, s in times]
        unsent = sum(1 for _, s in times if s is None)
        ge = ">= " if unsent else ""
        cut = f" [cut off: {unsent} not sent after {args.phase_seconds:.0f} s: {counts}]"
        print(
            f"{r} reminders due at the same instant: lateness p50 {ge}{pct(late, 50):.2f} s, "
            f"p99 {ge}{pct(late, 99):.2f} s, max {ge}{max(late):.2f} s (target p99 < 5 s)"
            + (cut if unsent else "")
        )
        after = sandbox_stats(sandbox_url)
        print(
            f"  (scheduler every {args.interval} s enqueued {sched.enqueued} messages for {r} "
            f"reminders; the sandbox got {after['requests'] - before['requests']} requests, "
            f"{after['keys_seen_more_than_once'] - before['keys_seen_more_than_once']} keys "
            f"more than once; first enqueue {(sched.first - due).total_seconds():.2f} s after T)"
        )
    finally:
        procs.stop_all()
        broker.client.flushdb()
        broker.close()
        await db.dispose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--notifications", type=int, default=3000)
    ap.add_argument("--reminders", type=int, default=10_000)
    ap.add_argument("--processes", type=int, default=2)
    ap.add_argument("--threads", type=int, default=4)
    ap.add_argument("--interval", type=float, default=0.25, help="scheduler pass, seconds")
    ap.add_argument("--phase-seconds", type=float, default=180.0, help="bound per phase")
    ap.add_argument(
        "--broker", default="redis://127.0.0.1:6379/13", help="a Redis database of its own: flushed"
    )
    args = ap.parse_args()
    url, drop = fresh_database()
    logs = Path(tempfile.mkdtemp(prefix="turnout-bench-delivery-"))
    try:
        asyncio.run(main(args, url, logs))
    finally:
        drop()
    print(f"(process logs in {logs})")
