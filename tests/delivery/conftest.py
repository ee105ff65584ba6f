"""A sandbox provider (HTTP) and SMTP server on free local ports, wired into the settings."""

from __future__ import annotations

import asyncio
import os
import socket
from datetime import UTC, datetime, timedelta

import pytest
import uvicorn

from tests.helpers import make_tenant, token_for
from tests.recruiting import api
from turnout import sandbox
from turnout.config import get_settings

NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
async def provider():
    recorder = sandbox.Recorder()
    http_port, smtp_port = free_port(), free_port()
    smtp = sandbox.start_smtp(recorder, "127.0.0.1", smtp_port)
    server = uvicorn.Server(
        uvicorn.Config(
            sandbox.create_app(recorder), host="127.0.0.1", port=http_port, log_level="warning"
        )
    )
    serving = asyncio.create_task(server.serve())
    for _ in range(500):  # up to 10 s
        if server.started:
            break
        await asyncio.sleep(0.02)
    saved = {k: os.environ.get(k) for k in ("TURNOUT_SMTP_URL", "TURNOUT_PROVIDER_URL")}
    os.environ["TURNOUT_SMTP_URL"] = f"smtp://127.0.0.1:{smtp_port}"
    os.environ["TURNOUT_PROVIDER_URL"] = f"http://127.0.0.1:{http_port}"
    get_settings.cache_clear()
    try:
        yield recorder
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
        get_settings.cache_clear()
        server.should_exit = True
        await serving
        smtp.stop()


@pytest.fixture
async def world(client):
    """A tenant with a candidate (phone and email) and an AI interview in four days."""
    tenant = await make_tenant("acme")
    admin = await token_for(client, "admin@acme.example", "acme")
    job = await api.job(client, admin)
    cand = await api.candidate(client, admin, "Li Wei", "13812345678", "liwei@example.com")
    app = await api.application(client, admin, cand, job)
    opens = NOON + timedelta(days=4)
    iv = await api.ok(
        client,
        api.SCHEDULE,
        {
            "i": {
                "applicationId": app,
                "kind": "ai_async",
                "opensAt": opens.isoformat(),
                "closesAt": (opens + timedelta(days=2)).isoformat(),
            }
        },
        admin,
        "scheduleInterview",
    )
    return {
        "tenant": tenant,
        "admin": admin,
        "interview": iv["interview"]["id"],
        "opens": opens,
        "app": app,
        "candidate": cand,
    }
