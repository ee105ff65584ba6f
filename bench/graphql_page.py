"""One list page through HTTP + GraphQL vs the same data by one hand-written SQL query.

Seeds one tenant with 10,000 candidates (1-2 applications each, ~20 jobs) and 30,000
interviews (~20 interviewers), starts the real server (uvicorn, `turnout serve --workers N`)
and times the page "50 candidates with their applications, interviews and interviewers":
- through HTTP + GraphQL (httpx client, bearer token, random keyset pages);
- beside it, the same pages fetched by ONE SQL query (CTE page + json_agg subqueries) over an
  asyncpg pool against the same database, in the same run;
- and the same query behind a bare Starlette endpoint under uvicorn (same --workers; asyncpg,
  orjson; no GraphQL, no ORM): what HTTP alone costs (bench/_rawapp.py).
Each at 1 client (sequential) and at 50 concurrent clients: p50/p99 and requests per second.
A further line, an authenticated `{ __typename }` over the same HTTP path, shows the fixed
cost (HTTP, token check, GraphQL) that no page can go below.
Target: ratio <= 3, p99 < 100 ms at 50 clients on 2 cores.

--profile adds a pyinstrument profile of the same page driven in-process through
httpx.ASGITransport (no uvicorn, no sockets) after the servers are stopped.

Helpers: bench/_pageseed.py (seeding), bench/_measure.py (phases, CPU, output lines),
bench/_pageserver.py (server processes), bench/_rawapp.py (the SQL and the bare app),
bench/_pageprofile.py (--profile).

Run: python bench/graphql_page.py [--candidates 10000] [--interviews 30000] [--workers 2]
     [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._db import fresh_database
from bench._measure import (
    CLIENT_KEEPALIVE_S,
    CpuMeter,
    Resend,
    cpu_line,
    line,
    ratio_line,
    resent_line,
    run_side,
)
from bench._pageprofile import profile
from bench._pageseed import seed
from bench._pageserver import (
    accepted_nodelay,
    free_port,
    start_rawapp,
    start_server,
    stop_server,
    tail,
    wait_healthy,
)
from bench._rawapp import PAGE, queries, raw_args

PASSWORD = "correct horse battery staple"
SLUG = "pagebench"

PAGE_QUERY = """query($after: String) {
  candidates(first: 50, after: $after) {
    edges { cursor node {
      id name phone email
      applications { stage matchScore job { title } }
      interviews { state kind opensAt closesAt interviewer { name } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}"""

FLOOR_QUERY = "{ __typename }"  # HTTP + bearer check + GraphQL, no data: the fixed cost

CURSORS_QUERY = """query($after: String) {
  candidates(first: 50, after: $after) { pageInfo { hasNextPage endCursor } }
}"""

LOGIN = """mutation($e: String!, $p: String!, $t: String) {
  login(email: $e, password: $p, tenant: $t) {
    __typename
    ... on LoginPayload { bearerToken }
    ... on ForbiddenError { code message }
    ... on InvalidInputError { code message }
  }
}"""


async def gql_login(client) -> str:
    r = await client.post(
        "/graphql",
        json={
            "query": LOGIN,
            "variables": {"e": f"admin@{SLUG}.example", "p": PASSWORD, "t": SLUG},
        },
        headers={"X-Tenant": SLUG},
    )
    res = r.json()["data"]["login"]
    assert res["__typename"] == "LoginPayload", res
    client.cookies.clear()  # bearer only, as a script would
    return res["bearerToken"]


async def all_cursors(client, headers: dict) -> list[str | None]:
    """None (first page) and the endCursor of every page that has a next one."""
    out: list[str | None] = [None]
    after = None
    for _ in range(10_000):
        r = await client.post(
            "/graphql",
            json={"query": CURSORS_QUERY, "variables": {"after": after}},
            headers=headers,
        )
        body = r.json()
        if r.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"paging failed: HTTP {r.status_code}: {r.text[:2000]}")
        info = body["data"]["candidates"]["pageInfo"]
        if not info["hasNextPage"]:
            break
        after = info["endCursor"]
        out.append(after)
    return out


def compare(gql_page: dict, raw_rows: list) -> None:
    """The baseline must carry the same information as the GraphQL page."""
    edges = gql_page["data"]["candidates"]["edges"]
    assert len(edges) == len(raw_rows), (len(edges), len(raw_rows))
    for e, r in zip(edges, raw_rows, strict=True):
        node = e["node"]
        assert node["name"] == r["name"], (node["name"], r["name"])
        assert [(a["stage"], a["matchScore"], a["job"]["title"]) for a in node["applications"]] == [
            (a["stage"], a["matchScore"], a["job"]["title"]) for a in r["applications"]
        ]
        assert [
            (i["state"], i["kind"], (i["interviewer"] or {}).get("name"))
            for i in node["interviews"]
        ] == [
            (i["state"], i["kind"], (i["interviewer"] or {}).get("name")) for i in r["interviews"]
        ]
        assert r["phone_enc"] and r["email_enc"]


# --- main ----------------------------------------------------------------------------


async def main(args, url: str) -> None:
    import asyncpg
    import httpx

    from turnout.crypto.keys import generate_master_key

    os.environ["TURNOUT_MASTER_KEY"] = generate_master_key()  # the server gets the same one
    from turnout.config import Settings
    from turnout.crypto.keys import keyring
    from turnout.db.engine import db
    from turnout.db.migrate import upgrade_public
    from turnout.tenancy import service

    settings = Settings(database_url=url)
    keyring.configure(settings)
    db.configure(settings, url)
    async with db.engine().begin() as conn:
        await upgrade_public(conn)
    tenant = await service.create_tenant(
        service.NewTenant(
            slug=SLUG,
            name="Page Bench",
            admin_email=f"admin@{SLUG}.example",
            admin_password=PASSWORD,
            packs=["hospital"],
        )
    )
    rng = random.Random(2026)
    t = time.perf_counter()
    await seed(tenant, SLUG, args.candidates, args.interviews, rng)
    print(f"seeding took {time.perf_counter() - t:.1f} s", flush=True)

    pg_url = url.replace("postgresql+asyncpg", "postgresql")
    admin = await asyncpg.connect(pg_url)
    schema = tenant.ref.schema
    for table in ("jobs", "interviewers", "candidates", "applications", "interviews"):
        await admin.execute(f'VACUUM ANALYZE "{schema}".{table}')
    nodelay = await accepted_nodelay(args.workers)

    # Idle connections are dropped by the client before uvicorn's keep-alive timer (5 s) can
    # close them under a request; Resend re-sends (and counts) any request that still loses
    # its connection that way.
    limits = httpx.Limits(
        max_connections=args.clients + 10,
        max_keepalive_connections=args.clients + 10,
        keepalive_expiry=CLIENT_KEEPALIVE_S,
    )
    client_opts = {"limits": limits, "timeout": 30.0, "trust_env": False}
    log_dir = Path(tempfile.mkdtemp(prefix="turnout-bench-log-"))
    port = free_port()
    proc = start_server(url, port, log_dir / "uvicorn.log", args.workers)
    raw_proc = None
    pool = None
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", **client_opts) as client:
            await wait_healthy(client, proc, log_dir / "uvicorn.log")
            token = await gql_login(client)
            headers = {"Authorization": f"Bearer {token}", "X-Tenant": SLUG}
            cursors = await all_cursors(client, headers)
            print(f"{len(cursors)} distinct pages of {PAGE}; server pid {proc.pid}", flush=True)

            # one page, checked: does the query work, and does the baseline say the same?
            probe = await client.post(
                "/graphql",
                json={"query": PAGE_QUERY, "variables": {"after": cursors[1 % len(cursors)]}},
                headers=headers,
            )
            body = (
                probe.json()
                if probe.headers.get("content-type", "").startswith("application/json")
                else None
            )
            if probe.status_code != 200 or body is None or body.get("errors"):
                print(f"GRAPHQL PAGE QUERY FAILED: HTTP {probe.status_code}\n{probe.text[:4000]}")
                return
            first_body = (
                await client.post(
                    "/graphql",
                    json={"query": PAGE_QUERY, "variables": {"after": None}},
                    headers=headers,
                )
            ).json()

            def init(conn):
                return conn.set_type_codec(
                    "json", encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
                )

            pool = await asyncpg.create_pool(pg_url, min_size=10, max_size=args.pool, init=init)
            first, after = queries(schema)

            async def raw_page(cursor):
                async with pool.acquire() as conn:
                    if cursor is None:
                        return await conn.fetch(first)
                    return await conn.fetch(after, *raw_args(cursor))

            compare(body, await raw_page(cursors[1 % len(cursors)]))
            compare(first_body, await raw_page(None))
            sizes = len(probe.content)
            print(
                f"checked: GraphQL and raw SQL return the same candidates, applications, "
                f"interviews, interviewers (GraphQL response {sizes / 1024:.0f} KiB)",
                flush=True,
            )

            gql_resend = Resend(client)

            async def gql_page(cursor):
                r = await gql_resend.post(
                    "/graphql",
                    json={"query": PAGE_QUERY, "variables": {"after": cursor}},
                    headers=headers,
                )
                if r.status_code != 200 or b'"errors"' in r.content:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:2000]}")

            async def floor_page(_cursor):
                r = await gql_resend.post("/graphql", json={"query": FLOOR_QUERY}, headers=headers)
                if r.status_code != 200 or b'"errors"' in r.content:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:2000]}")

            meter = CpuMeter(admin, proc.pid)
            raw = await run_side(raw_page, cursors, args, meter)
            await pool.close()  # done with it: its connections would only crowd the server's
            pool = None
            gql = await run_side(gql_page, cursors, args, meter, gql_resend)
            floor = await run_side(floor_page, cursors, args, meter, gql_resend)
        stop_server(proc)

        # The same SQL behind a bare HTTP endpoint, served the same way, while nothing else runs
        raw_port = free_port()
        raw_log = log_dir / "rawapp.log"
        raw_proc = start_rawapp(pg_url, schema, args.pool, raw_port, raw_log, args.workers)
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{raw_port}", **client_opts) as rc:
            await wait_healthy(rc, raw_proc, raw_log)
            http_resend = Resend(rc)

            async def http_page(cursor):
                r = await http_resend.post("/page", json={"after": cursor})
                if r.status_code != 200:
                    raise RuntimeError(f"HTTP {r.status_code}: {r.text[:500]}\n{tail(raw_log)}")
                return r

            r = await http_page(cursors[1 % len(cursors)])
            compare(body, r.json())
            compare(first_body, (await http_page(None)).json())
            print(
                f"checked: raw SQL + HTTP returns the same (response {len(r.content) / 1024:.0f} "
                f"KiB, phone/email as base64 ciphertext); server pid {raw_proc.pid}",
                flush=True,
            )
            rawhttp = await run_side(
                http_page, cursors, args, CpuMeter(admin, raw_proc.pid), http_resend
            )
    finally:
        stop_server(proc)
        if raw_proc is not None:
            stop_server(raw_proc)
        shutil.rmtree(log_dir, ignore_errors=True)  # failures quote its tail above
        if pool is not None:
            await pool.close()
        await admin.close()

    c, w = args.clients, args.workers
    print()
    print(line("graphql page (50 candidates + applications + interviews + interviewers)", gql, c))
    print(line("raw SQL (asyncpg, one query)", raw, c))
    print(line("raw SQL + HTTP (Starlette endpoint under uvicorn, no GraphQL, no ORM)", rawhttp, c))
    print(line("floor: authenticated { __typename } over the same HTTP path", floor, c))
    print(ratio_line("raw", gql, raw, c))
    print(ratio_line("raw-http", gql, rawhttp, c))
    ok_ratio = gql[1]["p50"] / raw[1]["p50"] <= 3
    ok_p99 = gql[c]["p99"] < 100
    print(
        f"target: ratio <= 3 -> {'met' if ok_ratio else 'NOT met'}; "
        f"p99 < 100 ms at c={c} -> {'met' if ok_p99 else 'NOT met'} "
        f"(this machine: {os.cpu_count()} cores, PostgreSQL and the bench client on it too)"
    )
    print(cpu_line("graphql", gql, c))
    print(cpu_line("raw SQL", raw, c))
    print(cpu_line("raw SQL + HTTP", rawhttp, c))
    print(cpu_line("floor", floor, c))
    print(resent_line({"graphql": gql, "floor": floor, "raw-http": rawhttp}, c))
    print(
        f"  TCP_NODELAY on connections uvicorn accepts with --workers {w}: "
        + (
            "on"
            if nodelay
            else "OFF (uvicorn's pre-bound listener, github.com/Kludex/uvicorn/issues/3149): "
            "each keep-alive response's body waits for the client's delayed ACK of its "
            "headers (~40 ms on Linux), in the GraphQL server and the raw HTTP app alike"
        )
    )
    print(
        f"  notes: {args.candidates} candidates / {args.interviews} interviews; GraphQL = httpx "
        f"client -> uvicorn ({w} process{'es' if w > 1 else ''}, access log off) -> auth -> "
        f"strawberry -> SQLAlchemy; raw = asyncpg pool of {args.pool} (the app's pool allows "
        f"10+20), no HTTP, phone/email returned as ciphertext (the app also decrypts them), "
        f"json decoded by asyncpg; raw-http = the same query, asyncpg pool of {args.pool} per "
        f"process, rows as orjson, measured after the GraphQL server stopped"
    )

    if args.profile:
        await profile(
            settings, cursors, args.profile_requests, login=gql_login, query=PAGE_QUERY, slug=SLUG
        )
    await db.dispose()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--candidates", type=int, default=10_000)
    ap.add_argument("--interviews", type=int, default=30_000)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--sequential", type=int, default=300, help="requests at 1 client")
    ap.add_argument("--requests", type=int, default=2000, help="requests at --clients clients")
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument(
        "--pool", type=int, default=30, help="asyncpg pool size for the baselines (per process)"
    )
    ap.add_argument("--workers", type=int, default=2, help="server processes (2 cores here)")
    ap.add_argument("--profile", action="store_true", help="also profile in-process")
    ap.add_argument("--profile-requests", type=int, default=200)
    args = ap.parse_args()
    url, drop = fresh_database()
    try:
        asyncio.run(main(args, url))
    finally:
        drop()
