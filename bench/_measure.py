"""Measuring helpers for bench/graphql_page.py: latency phases, CPU accounting, output lines.

- measure / run_side: n calls over random pages from 1 or `clients` concurrent tasks
  (p50, p99, requests per second) after warm-up;
- Resend: one re-send of a request whose reused keep-alive connection the server closed
  under it (counted, and the count printed);
- CpuMeter: CPU cores used during a phase by this process, a server's whole process tree
  (uvicorn's supervisor and its worker processes), this database's PostgreSQL backends and
  the machine (Linux /proc).
"""

from __future__ import annotations

import asyncio
import os
import random
import time
from pathlib import Path

PHASE_SECONDS = 240  # no measuring phase may run longer than this

# The bench's httpx clients drop idle connections after this many seconds, well before
# uvicorn's keep-alive timeout (5 s) closes them from its side: a connection reused just as
# the server's timer fires is reset under the request (httpx.ReadError).
CLIENT_KEEPALIVE_S = 2.0


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(p / 100 * len(values)))]


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), for 'who burnt the CPU' lines."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (uvicorn --workers N: the supervisor and its workers)."""
    parent_of: dict[int, int] = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                parent_of[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue  # exited meanwhile
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [c for c, p in parent_of.items() if p in frontier]
        tree += frontier
    return tree


class Resend:
    """POST, re-sent once if the server closed the reused connection under the request
    (httpx.ReadError / RemoteProtocolError); `n` counts the re-sends. The latency measured
    includes the failed attempt."""

    def __init__(self, client) -> None:
        self.client, self.n = client, 0

    async def post(self, url: str, **kw):
        import httpx

        try:
            return await self.client.post(url, **kw)
        except (httpx.ReadError, httpx.RemoteProtocolError):
            self.n += 1
            return await self.client.post(url, **kw)


async def measure(call, cursors: list, n: int, concurrency: int, seed_: int) -> tuple:
    """n calls of call(cursor) on random pages from `concurrency` tasks.
    Returns (latencies in s, requests per second)."""
    rng = random.Random(seed_)
    plan = [rng.choice(cursors) for _ in range(n)]
    lat: list[float] = []
    next_i = 0

    async def worker() -> None:
        nonlocal next_i
        while next_i < len(plan):
            cur = plan[next_i]
            next_i += 1
            t = time.perf_counter()
            await call(cur)
            lat.append(time.perf_counter() - t)

    t0 = time.perf_counter()
    await asyncio.wait_for(
        asyncio.gather(*(worker() for _ in range(concurrency))), timeout=PHASE_SECONDS
    )
    return lat, len(lat) / (time.perf_counter() - t0)


def machine_busy() -> tuple[float, float]:
    """(busy, total) jiffies over all cores, from /proc/stat."""
    try:
        nums = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return float("nan"), float("nan")
    idle = nums[3] + (nums[4] if len(nums) > 4 else 0)
    return sum(nums) - idle, sum(nums)


class CpuMeter:
    """CPU used during a phase, in cores: this process, the server's process tree (uvicorn
    and its workers), this database's PostgreSQL backends, and the whole machine (others:
    tests someone else runs, etc.)."""

    def __init__(self, admin, server_pid: int | None) -> None:
        self.admin, self.server_pid = admin, server_pid

    async def snapshot(self) -> dict:
        pids = [
            r["pid"]
            for r in await self.admin.fetch(
                "SELECT pid FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ]
        server = {}
        if self.server_pid:
            server = {p: cpu_seconds(p) for p in process_tree(self.server_pid)}
        return {
            "t": time.perf_counter(),
            "bench": time.process_time(),
            "server": server,
            "pg": {p: cpu_seconds(p) for p in pids},
            "machine": machine_busy(),
        }

    @staticmethod
    def delta(a: dict, b: dict) -> dict:
        wall = b["t"] - a["t"]

        def grown(key: str) -> float:  # processes new since `a` count whole
            return sum(b[key][p] - a[key].get(p, 0.0) for p in b[key])

        busy = (b["machine"][0] - a["machine"][0]) / max(1.0, b["machine"][1] - a["machine"][1])
        machine = busy * (os.cpu_count() or 1)
        out = {
            "bench": (b["bench"] - a["bench"]) / wall,
            "server": grown("server") / wall,
            "pg": grown("pg") / wall,
            "machine": machine,
        }
        out["others"] = max(0.0, machine - out["bench"] - out["server"] - out["pg"])
        return out


async def run_side(call, cursors, args, meter: CpuMeter, resend: Resend | None = None) -> dict:
    await measure(call, cursors, args.warmup, 1, 1)  # warm-up: pools, plans, schema cache
    await measure(call, cursors, args.warmup, args.clients, 2)
    out = {}
    for c, n in ((1, args.sequential), (args.clients, args.requests)):
        before = await meter.snapshot()
        resent = resend.n if resend else 0
        lat, rps = await measure(call, cursors, n, c, 100 + c)
        after = await meter.snapshot()
        out[c] = {
            "p50": pct(lat, 50) * 1000,
            "p99": pct(lat, 99) * 1000,
            "rps": rps,
            "cpu": CpuMeter.delta(before, after),
            "resent": (resend.n if resend else 0) - resent,
        }
    return out


def line(label: str, r: dict, clients: int) -> str:
    a, b = r[1], r[clients]
    return (
        f"{label}: c=1 p50 {a['p50']:.2f} ms p99 {a['p99']:.2f} ms ({a['rps']:.0f} req/s) | "
        f"c={clients} p50 {b['p50']:.2f} ms p99 {b['p99']:.2f} ms, {b['rps']:.0f} req/s"
    )


def ratio_line(label: str, gql: dict, base: dict, clients: int) -> str:
    c = clients
    return (
        f"ratio (graphql/{label}) p50 at c=1: {gql[1]['p50'] / base[1]['p50']:.1f}; "
        f"p99 at c={c}: {gql[c]['p99'] / base[c]['p99']:.1f}; "
        f"throughput ratio at c={c} ({label}/graphql): {base[c]['rps'] / gql[c]['rps']:.1f}"
    )


def cpu_line(label: str, r: dict, clients: int) -> str:
    parts = []
    for c in (1, clients):
        u = r[c]["cpu"]
        parts.append(
            f"c={c}: bench {u['bench']:.2f}, uvicorn {u['server']:.2f}, "
            f"postgres {u['pg']:.2f}, other processes {u['others']:.2f} "
            f"(machine {u['machine']:.2f} of {os.cpu_count()})"
        )
    return f"  cpu cores while measuring {label}: " + "; ".join(parts)


def resent_line(sides: dict[str, dict], clients: int) -> str:
    counts = ", ".join(
        f"{label} c=1 {r[1]['resent']}, c={clients} {r[clients]['resent']}"
        for label, r in sides.items()
    )
    return (
        f"  requests re-sent because the server closed a reused keep-alive connection under "
        f"them (idle connections dropped by the client after {CLIENT_KEEPALIVE_S:.0f} s): " + counts
    )
