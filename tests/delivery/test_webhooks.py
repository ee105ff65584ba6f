"""Webhooks out: subscribe, events queued with the change, signed deliveries, retries, log."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import orjson
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.delivery.conftest import NOON, free_port
from tests.helpers import gql, make_tenant, make_user, token_for
from tests.recruiting import api
from turnout.delivery import tasks
from turnout.delivery.signing import verify
from turnout.kit.clock import clock

SUBSCRIBE = """mutation($u: String!, $e: [String!]!) { createWebhookSubscription(url: $u,
  events: $e) { __typename ... on WebhookSubscriptionPayload { secret subscription { id url
  events active } } ... on InvalidInputError { errors { path message } } } }"""
LOG = """{ webhookDeliveries(first: 20) { totalCount edges { node { event status attempts
  lastStatusCode lastError } } } }"""


@pytest.fixture
async def receiver():
    got: list[dict] = []
    answers: list[int] = []

    async def hook(request: Request) -> JSONResponse:
        body = await request.body()
        got.append({"body": body, "headers": dict(request.headers)})
        return JSONResponse({}, answers.pop(0) if answers else 200)

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            Starlette(routes=[Route("/hook", hook, methods=["POST"])]),
            host="127.0.0.1",
            port=port,
            log_level="warning",
        )
    )
    serving = asyncio.create_task(server.serve())
    for _ in range(500):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/hook", got, answers
    finally:
        server.should_exit = True
        await serving


async def test_events_are_delivered_signed_and_retried(client, receiver):
    url, got, answers = receiver
    await make_tenant("acme")
    admin = await token_for(client, "admin@acme.example", "acme")
    r = await gql(
        client,
        SUBSCRIBE,
        {"u": url, "e": ["interview.scheduled", "interview.cancelled"]},
        token=admin,
    )
    res = r.json()["data"]["createWebhookSubscription"]
    secret = res["secret"]
    assert res["subscription"]["events"] == ["interview.cancelled", "interview.scheduled"]
    job = await api.job(client, admin)
    cand = await api.candidate(client, admin)
    app = await api.application(client, admin, cand, job)
    opens = NOON + timedelta(days=3)
    iv = (
        await api.ok(
            client,
            api.SCHEDULE,
            {
                "i": {
                    "applicationId": app,
                    "kind": "ai_async",
                    "opensAt": opens.isoformat(),
                    "closesAt": (opens + timedelta(days=1)).isoformat(),
                }
            },
            admin,
            "scheduleInterview",
        )
    )["interview"]
    answers.append(500)  # the integrator is down the first time
    await tasks.tick(clock.now(), inline=True)
    assert len(got) == 1
    log = (await gql(client, LOG, token=admin)).json()["data"]["webhookDeliveries"]
    assert log["edges"][0]["node"] == {
        "event": "interview.scheduled",
        "status": "pending",
        "attempts": 1,
        "lastStatusCode": 500,
        "lastError": "answered 500",
    }
    clock.freeze(clock.now() + timedelta(minutes=1))
    await tasks.tick(clock.now(), inline=True)
    assert len(got) == 2
    first, second = got
    body = orjson.loads(second["body"])
    assert body["event"] == "interview.scheduled"
    assert body["data"]["interview_id"] == iv["id"] and body["data"]["candidate_id"] == cand
    assert second["headers"]["x-turnout-event"] == "interview.scheduled"
    assert second["headers"]["x-turnout-delivery"] == first["headers"]["x-turnout-delivery"]
    assert verify(secret, second["body"], second["headers"]["x-turnout-signature"])
    assert not verify("wrong", second["body"], second["headers"]["x-turnout-signature"])
    log = (await gql(client, LOG, token=admin)).json()["data"]["webhookDeliveries"]
    assert log["edges"][0]["node"]["status"] == "delivered"

    r = await gql(
        client,
        "mutation($id: ID!) { cancelInterview(id: $id) { __typename } }",
        {"id": iv["id"]},
        token=admin,
    )
    assert r.json()["data"]["cancelInterview"]["__typename"] == "InterviewPayload"
    await tasks.tick(clock.now(), inline=True)
    assert orjson.loads(got[-1]["body"])["event"] == "interview.cancelled"


async def test_bad_subscriptions_and_permissions(client):
    await make_tenant("acme")
    admin = await token_for(client, "admin@acme.example", "acme")
    for url, events, path in [
        ("ftp://x.example/hook", ["interview.scheduled"], ["url"]),
        ("not a url", ["interview.scheduled"], ["url"]),
        ("https://x.example/hook", [], ["events"]),
        ("https://x.example/hook", ["interview.exploded"], ["events"]),
    ]:
        r = await gql(client, SUBSCRIBE, {"u": url, "e": events}, token=admin)
        res = r.json()["data"]["createWebhookSubscription"]
        assert res["__typename"] == "InvalidInputError" and res["errors"][0]["path"] == path
    assert (await gql(client, "{ webhookSubscriptions { id } }", token=admin)).json()["data"][
        "webhookSubscriptions"
    ] == []
    await make_user("acme", "rec@acme.example", ["recruiter"])
    rec = await token_for(client, "rec@acme.example", "acme")
    r = await gql(
        client, SUBSCRIBE, {"u": "https://x.example/h", "e": ["interview.scheduled"]}, token=rec
    )
    assert r.json()["data"] is None and "forbidden" in r.json()["errors"][0]["message"]
    r = await gql(
        client, SUBSCRIBE, {"u": "https://x.example/h", "e": ["interview.scheduled"]}, token=admin
    )
    sid = r.json()["data"]["createWebhookSubscription"]["subscription"]["id"]
    delete = "mutation($id: ID!) { deleteWebhookSubscription(id: $id) { __typename } }"
    r = await gql(client, delete, {"id": sid}, token=admin)
    assert r.json()["data"]["deleteWebhookSubscription"]["__typename"] == (
        "WebhookSubscriptionPayload"
    )
    r = await gql(client, delete, {"id": sid}, token=admin)
    assert r.json()["data"]["deleteWebhookSubscription"]["__typename"] == "NotFoundError"
