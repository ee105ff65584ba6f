"""`turnout scheduler tick --at`: one pass at a given time, through the real command."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

from tests.cli import turnout


async def test_scheduler_tick_at_a_time(provider, world):
    env = {k: os.environ[k] for k in ("TURNOUT_SMTP_URL", "TURNOUT_PROVIDER_URL")}
    early = (world["opens"] - timedelta(days=3)).isoformat()
    r = await asyncio.to_thread(turnout, "scheduler", "tick", "--at", early, env=env)
    assert r.returncode == 0, r.stderr
    assert "sent 0 notifications" in r.stdout and provider.messages == []
    due = (world["opens"] - timedelta(days=2) + timedelta(minutes=1)).isoformat()
    r = await asyncio.to_thread(turnout, "scheduler", "tick", "--at", due, env=env)
    assert r.returncode == 0, r.stderr
    assert "sent 2 notifications" in r.stdout
    assert sorted(m["channel"] for m in provider.messages) == ["email", "sms"]


def test_scheduler_tick_rejects_bad_times(database_url):
    for bad, message in [
        ("tomorrow", "not an ISO time"),
        ("2026-12-01T09:00:00", "needs a time zone offset"),
    ]:
        r = turnout("scheduler", "tick", "--at", bad)
        assert r.returncode == 1 and message in r.stderr
