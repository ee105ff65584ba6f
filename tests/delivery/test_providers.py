"""A tenant's own providers (credentials encrypted) and its own message templates."""

from __future__ import annotations

import os
from datetime import timedelta

from sqlalchemy import text

from tests.helpers import gql
from turnout.db.engine import db
from turnout.delivery import tasks
from turnout.kit.clock import clock

SET_CHANNEL = """mutation($c: String!, $u: String!, $k: String) { setChannelSetting(
  channel: $c, baseUrl: $u, credential: $k) { __typename
  ... on ChannelSettingPayload { setting { channel baseUrl hasCredential } }
  ... on InvalidInputError { errors { path message } } } }"""
SET_TEMPLATE = """mutation($k: String!, $l: String!, $s: String!, $b: String!) {
  setMessageTemplate(kind: $k, locale: $l, subject: $s, body: $b) { __typename
  ... on MessageTemplatePayload { template { kind locale body builtIn } }
  ... on InvalidInputError { errors { path message } } } }"""


async def test_tenant_provider_and_template_are_used(client, provider, world):
    admin = world["admin"]
    # The platform's provider is the sandbox; this tenant sends SMS through "its own"
    # (the same sandbox under another URL form), with a secret token.
    base = os.environ["TURNOUT_PROVIDER_URL"].replace("127.0.0.1", "localhost")
    r = await gql(client, SET_CHANNEL, {"c": "sms", "u": base, "k": "tok-s3cret"}, token=admin)
    assert r.json()["data"]["setChannelSetting"]["setting"] == {
        "channel": "sms",
        "baseUrl": base,
        "hasCredential": True,
    }
    async with db.engine().connect() as conn:
        raw = (
            await conn.execute(text("SELECT credential_enc FROM tenant_acme.channel_settings"))
        ).scalar_one()
    assert b"tok-s3cret" not in raw
    body = "Hello {{ name }}! {{ job }} at {{ when }}. Tap {{ link }}"
    r = await gql(
        client, SET_TEMPLATE, {"k": "short", "l": "en", "s": "Reminder", "b": body}, token=admin
    )
    assert r.json()["data"]["setMessageTemplate"]["template"]["builtIn"] is False
    r = await gql(client, "{ messageTemplates { kind locale builtIn } }", token=admin)
    flags = {(t["kind"], t["locale"]): t["builtIn"] for t in r.json()["data"]["messageTemplates"]}
    assert flags[("short", "en")] is False and flags[("email", "en")] is True
    clock.freeze(world["opens"] - timedelta(days=2))
    await tasks.tick(clock.now(), inline=True)
    sms = next(m for m in provider.messages if m["channel"] == "sms")
    assert sms["body"].startswith("Hello Li Wei! ICU Nurse at ")


async def test_bad_provider_settings_and_templates(client, world):
    admin = world["admin"]
    for c, u, path in [
        ("fax", "https://x.example", ["channel"]),
        ("sms", "ftp://x.example", ["baseUrl"]),
        ("email", "https://x.example", ["baseUrl"]),
    ]:
        r = await gql(client, SET_CHANNEL, {"c": c, "u": u}, token=admin)
        res = r.json()["data"]["setChannelSetting"]
        assert res["__typename"] == "InvalidInputError" and path in [
            e["path"] for e in res["errors"]
        ]
    for k, loc, b, path in [
        ("fax", "en", "x {{ link }}", ["kind"]),
        ("short", "fr", "x {{ link }}", ["locale"]),
        ("short", "en", "no link here", ["body"]),
        ("short", "en", "{{ link }} {% if %}", ["body"]),
        ("short", "en", "{{ link }} {{ name.__class__.__mro__ }}", ["body"]),
    ]:
        r = await gql(client, SET_TEMPLATE, {"k": k, "l": loc, "s": "s", "b": b}, token=admin)
        res = r.json()["data"]["setMessageTemplate"]
        assert res["__typename"] == "InvalidInputError", (b, res)
        assert path in [e["path"] for e in res["errors"]]
    r = await gql(client, "{ channelSettings { channel } }", token=admin)
    assert r.json()["data"]["channelSettings"] == []


async def test_internal_addresses_are_refused_outside_development(client, app, world):
    app.state.settings = app.state.settings.model_copy(update={"env": "production"})
    admin = world["admin"]
    for url in (
        "http://127.0.0.1:8025",
        "http://10.1.2.3/hooks",
        "http://169.254.169.254/",
        "http://localhost:9000",
    ):
        r = await gql(client, SET_CHANNEL, {"c": "sms", "u": url}, token=admin)
        res = r.json()["data"]["setChannelSetting"]
        assert res["__typename"] == "InvalidInputError", url
        assert "inside the platform's network" in res["errors"][0]["message"]
    r = await gql(
        client,
        """mutation($u: String!) { createWebhookSubscription(url: $u,
        events: ["interview.scheduled"]) { __typename } }""",
        {"u": "http://[::1]:8080/h"},
        token=admin,
    )
    assert r.json()["data"]["createWebhookSubscription"]["__typename"] == "InvalidInputError"
    r = await gql(client, "{ channelSettings { channel } } ", token=admin)
    assert r.json()["data"]["channelSettings"] == []
