"""A sandbox provider (HTTP) and SMTP server on free local ports, wired into the settings."""

from __future__ import annotations

import asyncio
import os
import socket

import pytest
import uvicorn

from turnout import sandbox
from turnout.config import get_settings


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
