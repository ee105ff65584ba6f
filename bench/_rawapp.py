"""The hand-written page query, and a bare Starlette app that serves it over HTTP.

RAW_FIRST / RAW_AFTER: one SQL query for "50 candidates with their applications, interviews
and interviewers" (the baseline of bench/graphql_page.py, used there over asyncpg directly).

`app`: the same query behind one POST /page endpoint (JSON body {"after": cursor | null},
orjson of the rows back) plus GET /healthz, for the "raw SQL + HTTP, no GraphQL, no ORM" line.
Started by the bench as `python -m uvicorn bench._rawapp:app --workers N` with
BENCH_RAW_DSN (postgresql://...), BENCH_RAW_SCHEMA (the tenant schema) and BENCH_RAW_POOL
(asyncpg pool size per worker process) in the environment.
"""

from __future__ import annotations

import base64
import contextlib
import os
import uuid
from datetime import datetime

import orjson

PAGE = 50

# The 51-row keyset page in a CTE (the 51st row only says "has next"), then per candidate one
# json_agg subquery for applications (+ job title) and one for interviews (+ interviewer
# name), both on indexed candidate_id; same orders as the app's loaders.
RAW_SELECT = """
SELECT p.id, p.name, p.phone_enc, p.email_enc, p.created_at,
  (SELECT count(*) FROM page) > {page} AS has_next,
  (SELECT coalesce(json_agg(json_build_object(
            'stage', a.stage, 'matchScore', a.match_score,
            'job', json_build_object('title', j.title)
          ) ORDER BY a.created_at, a.id), '[]'::json)
     FROM "{schema}".applications a JOIN "{schema}".jobs j ON j.id = a.job_id
    WHERE a.candidate_id = p.id) AS applications,
  (SELECT coalesce(json_agg(json_build_object(
            'state', i.state, 'kind', i.kind, 'opensAt', i.opens_at, 'closesAt', i.closes_at,
            'interviewer', CASE WHEN v.id IS NULL THEN NULL
                                ELSE json_build_object('name', v.name) END
          ) ORDER BY i.opens_at, i.id), '[]'::json)
     FROM "{schema}".interviews i LEFT JOIN "{schema}".interviewers v ON v.id = i.interviewer_id
    WHERE i.candidate_id = p.id) AS interviews
FROM (SELECT * FROM page ORDER BY created_at, id LIMIT {page}) p
ORDER BY p.created_at, p.id
"""
RAW_FIRST = (
    'WITH page AS (SELECT id, name, phone_enc, email_enc, created_at FROM "{schema}".candidates '
    "ORDER BY created_at, id LIMIT {page1})" + RAW_SELECT
)
RAW_AFTER = (
    'WITH page AS (SELECT id, name, phone_enc, email_enc, created_at FROM "{schema}".candidates '
    "WHERE (created_at, id) > ($1, $2) ORDER BY created_at, id LIMIT {page1})" + RAW_SELECT
)


def queries(schema: str) -> tuple[str, str]:
    """(first page, page after a cursor) for one tenant schema."""
    return (
        RAW_FIRST.format(schema=schema, page=PAGE, page1=PAGE + 1),
        RAW_AFTER.format(schema=schema, page=PAGE, page1=PAGE + 1),
    )


def raw_args(cursor: str | None) -> tuple:
    """The app's opaque keyset cursor as the query's ($1, $2)."""
    from turnout.kit.pagination import decode_cursor

    if cursor is None:
        return ()
    at, rid = decode_cursor(cursor, 2)
    return (datetime.fromisoformat(at), uuid.UUID(rid))


def _default(o: object) -> str:
    if isinstance(o, bytes):  # phone_enc / email_enc: ciphertext, sent as base64
        return base64.b64encode(o).decode()
    if isinstance(o, uuid.UUID):  # asyncpg's own UUID subclass, which orjson does not take
        return str(o)
    raise TypeError(type(o).__name__)


def _build_app():
    import asyncpg
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    first, after = queries(os.environ["BENCH_RAW_SCHEMA"])
    state: dict = {}

    async def init(conn) -> None:
        await conn.set_type_codec(
            "json",
            encoder=lambda v: orjson.dumps(v).decode(),
            decoder=orjson.loads,
            schema="pg_catalog",
        )

    @contextlib.asynccontextmanager
    async def lifespan(_app):
        size = int(os.environ.get("BENCH_RAW_POOL", "30"))
        state["pool"] = await asyncpg.create_pool(
            os.environ["BENCH_RAW_DSN"], min_size=min(5, size), max_size=size, init=init
        )
        try:
            yield
        finally:
            await state["pool"].close()

    async def page(request: Request) -> Response:
        cursor = orjson.loads(await request.body()).get("after")
        async with state["pool"].acquire() as conn:
            if cursor is None:
                rows = await conn.fetch(first)
            else:
                rows = await conn.fetch(after, *raw_args(cursor))
        return Response(
            orjson.dumps([dict(r) for r in rows], default=_default),
            media_type="application/json",
        )

    async def healthz(_request: Request) -> Response:
        return PlainTextResponse("ok")

    return Starlette(
        routes=[Route("/page", page, methods=["POST"]), Route("/healthz", healthz)],
        lifespan=lifespan,
    )


def __getattr__(name: str):  # `bench._rawapp:app` builds the app only where it is served
    if name == "app":
        return _build_app()
    raise AttributeError(name)
