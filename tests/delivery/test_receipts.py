"""Receipts: the provider's signed callbacks and the candidate's tracked-link opens move a
notification forward; unsigned or forged callbacks are refused and change nothing."""

from __future__ import annotations

import asyncio
import os
import re
import time
from datetime import timedelta

import orjson
import pytest
import uvicorn
from sqlalchemy import select

from tests.delivery.conftest import free_port
from turnout.config import get_settings
from turnout.db.session import tenant_session
from turnout.delivery import tasks
from turnout.delivery.models import Notification, ReceiptInbox
from turnout.delivery.signing import sign
from turnout.evidence.models import EvidenceEvent
from turnout.kit.clock import clock


async def _by_channel(tenant) -> dict[str, Notification]:
    async with tenant_session(tenant.ref) as s:
        rows = (
            await s.execute(
                select(Notification).where(Notification.step == 0, Notification.kind == "reminder")
            )
        ).scalars()
        return {r.channel: r for r in rows}


@pytest.fixture
async def served(app):
    """The app on a real port, as the public URL providers call back."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    saved = os.environ.get("TURNOUT_PUBLIC_URL")
    os.environ["TURNOUT_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
    get_settings.cache_clear()
    try:
        yield port
    finally:
        if saved is None:
            os.environ.pop("TURNOUT_PUBLIC_URL", None)
        else:
            os.environ["TURNOUT_PUBLIC_URL"] = saved
        get_settings.cache_clear()
        server.should_exit = True
        await serving


async def test_sandbox_receipts_flow_back_over_http(provider, served, world):
    provider.receipt_delay, provider.read_rate = 0.0, 1.0
    clock.freeze(world["opens"] - timedelta(days=2))
    await tasks.tick(clock.now(), inline=True)
    for _ in range(100):  # receipts arrive asynchronously; a scheduler pass applies them
        await tasks.tick(clock.now(), inline=True)
        sms = (await _by_channel(world["tenant"]))["sms"]
        if sms.status == "opened":
            break
        await asyncio.sleep(0.05)
    assert sms.status == "opened" and sms.delivered_at and sms.opened_at
    assert provider.receipts_sent == 2


async def _post(client, tenant: str, body: dict | bytes, signature: str | None):
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-turnout-signature"] = signature
    return await client.post(f"/webhooks/providers/{tenant}/sms", content=raw, headers=headers)


async def test_callbacks_must_be_signed(client, provider, world, caplog):
    clock.freeze(world["opens"] - timedelta(days=2))
    await tasks.tick(clock.now(), inline=True)
    sms = (await _by_channel(world["tenant"]))["sms"]
    secret = get_settings().provider_webhook_secret
    body = orjson.dumps({"idempotency_key": str(sms.id), "status": "delivered"})
    for signature in (
        None,
        "t=1,v1=00",
        sign("not-the-secret", body),
        sign(secret, body, at=int(time.time()) - 3600),
        "garbage",
    ):
        r = await _post(client, "acme", body, signature)
        assert r.status_code == 401, signature
    assert "rejected an unsigned or forged provider callback" in caplog.text
    assert (await _by_channel(world["tenant"]))["sms"].status == "sent"

    bad = orjson.dumps({"idempotency_key": "x", "status": "delivered"})
    assert (await _post(client, "acme", bad, sign(secret, bad))).status_code == 400
    odd = orjson.dumps({"idempotency_key": str(sms.id), "status": "exploded"})
    assert (await _post(client, "acme", odd, sign(secret, odd))).status_code == 400
    assert (await _post(client, "nosuch", body, sign(secret, body))).status_code == 404

    assert (await _by_channel(world["tenant"]))["sms"].status == "sent"  # refused: no trace
    await tasks.tick(clock.now(), inline=True)
    assert (await _by_channel(world["tenant"]))["sms"].status == "sent"

    ok = await _post(client, "acme", body, sign(secret, body))
    assert ok.json() == {"ok": True, "queued": True}
    await tasks.tick(clock.now(), inline=True)  # the next pass applies it
    assert (await _by_channel(world["tenant"]))["sms"].status == "delivered"
    again = await _post(client, "acme", body, sign(secret, body))
    assert again.json() == {"ok": True, "queued": True}
    await tasks.tick(clock.now(), inline=True)
    async with tenant_session(world["tenant"].ref) as s:  # replays change nothing
        kinds = (
            await s.execute(
                select(EvidenceEvent.kind).where(EvidenceEvent.kind == "notification.delivered")
            )
        ).scalars()
        assert list(kinds) == ["notification.delivered"]
        assert not (await s.execute(select(ReceiptInbox))).scalars().all()  # inbox emptied


async def test_tracked_link_records_the_open_and_stops_the_escalation(client, provider, world):
    clock.freeze(world["opens"] - timedelta(days=2))
    await tasks.tick(clock.now(), inline=True)
    sms_body = next(m["body"] for m in provider.messages if m["channel"] == "sms")
    path = re.search(r"(/r/[A-Za-z0-9_\-]+)", sms_body).group(1)
    r = await client.get(path, follow_redirects=True)  # /r/ -> the portal page
    assert r.status_code == 200 and "ICU Nurse" in r.text
    assert (await _by_channel(world["tenant"]))["sms"].status == "opened"
    bad = await client.get(path[:-3] + "abc")
    assert bad.status_code == 404 and "not valid" in bad.text
    clock.freeze(clock.now() + timedelta(minutes=61))
    await tasks.tick(clock.now(), inline=True)
    async with tenant_session(world["tenant"].ref) as s:
        esc = (
            (await s.execute(select(Notification).where(Notification.kind == "escalation")))
            .scalars()
            .all()
        )
    assert [e.status for e in esc] == ["skipped"]  # the SMS link was opened: no voice call


def test_production_refuses_the_development_callback_secret(settings):
    from turnout.app import create_app

    prod = settings.model_copy(update={"env": "production"})
    with pytest.raises(RuntimeError, match="TURNOUT_PROVIDER_WEBHOOK_SECRET"):
        create_app(prod, configure=False)
    create_app(prod.model_copy(update={"provider_webhook_secret": "s3cret"}), configure=False)
