"""A fresh database for one benchmark run: TURNOUT_BENCH_DATABASE_URL, the test server, or
an embedded PostgreSQL."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from turnout.db.engine import start_embedded


def server_url() -> str:
    url = os.environ.get("TURNOUT_BENCH_DATABASE_URL") or os.environ.get(
        "TURNOUT_TEST_DATABASE_URL"
    )
    if url:
        return url
    return start_embedded(
        Path(tempfile.mkdtemp(prefix="turnout-bench-")), database="postgres", cleanup_mode="delete"
    )


def fresh_database() -> tuple[str, callable]:
    base = make_url(server_url()).set(drivername="postgresql")
    name = f"turnout_bench_{uuid.uuid4().hex[:8]}"
    admin = base.set(database="postgres").render_as_string(hide_password=False)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return base.set(database=name).render_as_string(hide_password=False), drop
