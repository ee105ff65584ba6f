"""--profile for bench/graphql_page.py: the GraphQL page driven in-process under pyinstrument,
with a garbage-collector watch and self time grouped by package."""

from __future__ import annotations

import random
import time

from bench._measure import pct


def package_of(path: str | None) -> str:
    if not path:
        return "(unattributed)"
    p = path.replace("\\", "/")
    if "/platform/turnout/" in p or "/site-packages/turnout/" in p:
        return "turnout (" + p.split("/turnout/", 1)[1].split("/", 1)[0].removesuffix(".py") + ")"
    if "/bench/" in p:
        return "bench driver"
    for key in (
        "strawberry",
        "graphql",
        "sqlalchemy",
        "asyncpg",
        "starlette",
        "httpx",
        "httpcore",
        "anyio",
        "cryptography",
        "orjson",
        "pydantic",
        "jwt",
        "authlib",
    ):
        if f"/{key}/" in p:
            return "graphql-core" if key == "graphql" else key
    if "/asyncio/" in p:
        return "asyncio"
    if "/site-packages/" in p:
        return p.split("/site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    return "python stdlib"


def self_times(frame, acc: dict[str, float], parent_path: str | None = None) -> None:
    """Self time by package; builtins and generated code (<built-in>, <string>: dataclass
    __init__ and the like) count for the package that called them."""
    path = frame.file_path
    if not path or path.startswith("<"):
        path = parent_path
    if frame.is_synthetic:  # [self] belongs to its parent's file; [await] is waiting
        key = "(await: idle, waiting on PostgreSQL)" if frame.function == "[await]" else None
        key = key or package_of(path)
        acc[key] = acc.get(key, 0.0) + frame.time
        return
    own = frame.time - sum(c.time for c in frame.children)
    if own > 1e-9:
        acc[package_of(path)] = acc.get(package_of(path), 0.0) + own
    for c in frame.children:
        self_times(c, acc, path)


def body_of(report: str) -> list[str]:
    """pyinstrument's text without its banner."""
    lines = report.splitlines()
    for i, ln in enumerate(lines):
        if ln.startswith("Profile at"):
            return [x for x in lines[i + 1 :] if x.strip()]
    return lines


async def gc_watch(one, n: int) -> tuple[list[float], dict[int, list[float]]]:
    """n sequential calls: latencies (ms), and the garbage collector's pauses by generation."""
    import gc

    pauses: dict[int, list[float]] = {}
    started = [0.0]

    def cb(phase: str, info: dict) -> None:
        if phase == "start":
            started[0] = time.perf_counter()
        else:
            ms = (time.perf_counter() - started[0]) * 1000
            pauses.setdefault(info["generation"], []).append(ms)

    lat = []
    gc.callbacks.append(cb)
    try:
        for _ in range(n):
            t = time.perf_counter()
            await one()
            lat.append((time.perf_counter() - t) * 1000)
    finally:
        gc.callbacks.remove(cb)
    return lat, pauses


async def profile(settings, cursors: list, n: int, *, login, query: str, slug: str) -> None:
    """n page requests through the app in-process (httpx.ASGITransport, no uvicorn, no
    sockets) under pyinstrument, after 300 unprofiled ones watched for GC pauses; `login`
    is the bench's `gql_login(client) -> bearer token`."""
    import httpx
    from pyinstrument import Profiler

    from turnout.app import create_app

    app = create_app(settings, configure=False)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        token = await login(c)
        headers = {"Authorization": f"Bearer {token}", "X-Tenant": slug}
        rng = random.Random(7)

        async def one() -> None:
            r = await c.post(
                "/graphql",
                json={"query": query, "variables": {"after": rng.choice(cursors)}},
                headers=headers,
            )
            assert r.status_code == 200 and b'"errors"' not in r.content, r.text[:2000]

        for _ in range(30):
            await one()
        lat, pauses = await gc_watch(one, 300)
        profiler = Profiler(interval=0.0005, async_mode="enabled")
        t0 = time.perf_counter()
        profiler.start()
        for _ in range(n):
            await one()
        profiler.stop()
        wall = time.perf_counter() - t0
    print(
        f"\nin-process, no profiler, 300 sequential pages: p50 {pct(lat, 50):.2f} ms, "
        f"p99 {pct(lat, 99):.2f} ms, max {max(lat):.2f} ms; garbage collector during them: "
        + ", ".join(
            f"gen{g} {len(v)}x (max {max(v):.1f} ms, total {sum(v):.0f} ms)"
            for g, v in sorted(pauses.items())
        )
    )
    print(
        f"pyinstrument: {n} page requests in-process (httpx.ASGITransport, sequential): "
        f"{wall / n * 1000:.2f} ms/request under the profiler"
    )
    print(
        "(SQLAlchemy runs the ORM side of each query in a greenlet: that time is the separate "
        "root 'Session.execute' below the request tree)"
    )
    lines = body_of(profiler.output_text(unicode=True, color=False, show_all=False))
    print("\n".join(lines[:40]))
    if len(lines) > 40:
        print(f"  ... ({len(lines) - 40} more lines)")
    flat = profiler.output_text(unicode=True, color=False, flat=True, flat_time="self")
    print("\ntop functions by self time (s over all requests):")
    print("\n".join(body_of(flat)[:25]))
    acc: dict[str, float] = {}
    root = profiler.last_session.root_frame()
    if root is not None:
        self_times(root, acc)
    total = sum(acc.values()) or 1.0
    print("\nself time by package (includes the httpx client driving the app):")
    for k, v in sorted(acc.items(), key=lambda kv: -kv[1]):
        if v / total >= 0.005:
            print(f"  {k:40s} {v / n * 1000:7.2f} ms/request  {v / total * 100:5.1f}%")
