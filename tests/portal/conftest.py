"""A tenant with a candidate (Asia/Shanghai) and an AI interview in four days, its portal
link, and helpers for the vendor's settings and signed events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pytest
from sqlalchemy import select

from tests.helpers import gql, make_tenant, token_for
from tests.recruiting import api
from turnout.db.session import public_session, tenant_session
from turnout.delivery.signing import sign
from turnout.evidence import service as evidence
from turnout.graphql.relay import from_global
from turnout.tenancy import service as tenancy

NOON = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0)
VENDOR_SECRET = "vendor-secret-0123456789abcdef"
TEMPLATE = "https://vendor.example/start?ref={vendor_ref}&interview={interview_id}&lang={locale}"

LINK = "query($id: ID!) { interview(id: $id) { state candidateLink vendorRef } }"
SET_VENDOR = """mutation($t: String!, $s: String) {
  setInterviewVendor(startUrlTemplate: $t, webhookSecret: $s) { __typename
    ... on InterviewVendorPayload { vendor { startUrlTemplate hasWebhookSecret webhookUrl
      updatedBy } }
    ... on InvalidInputError { errors { path code message } }
    ... on ForbiddenError { message } } }"""
FOLLOW_UPS = """query($s: String, $first: Int, $after: String) {
  followUps(status: $s, first: $first, after: $after) { totalCount
    pageInfo { hasNextPage endCursor }
    edges { node { id kind urgent description status resolvedBy
      interview { id state job { title } candidate { name } } } } } }"""
RESOLVE = """mutation($id: ID!) { resolveFollowUp(id: $id) { __typename
  ... on FollowUpPayload { followUp { status resolvedBy resolvedAt } }
  ... on NotFoundError { message path } ... on ConflictError { message }
  ... on InvalidInputError { errors { path message } } } }"""


async def schedule(client, admin: str, app: str, opens: datetime, hours: int = 48) -> str:
    iv = await api.ok(
        client,
        api.SCHEDULE,
        {
            "i": {
                "applicationId": app,
                "kind": "ai_async",
                "opensAt": opens.isoformat(),
                "closesAt": (opens + timedelta(hours=hours)).isoformat(),
            }
        },
        admin,
        "scheduleInterview",
    )
    return iv["interview"]["id"]


async def interview(client, admin: str, iid: str) -> dict:
    r = await gql(client, LINK, {"id": iid}, token=admin)
    return r.json()["data"]["interview"]


async def make_world(client, slug: str = "acme", locale: str = "en") -> dict:
    tenant = await make_tenant(slug)
    admin = await token_for(client, f"admin@{slug}.example", slug)
    job = await api.job(client, admin)
    cand = await api.candidate(
        client,
        admin,
        "Li Wei",
        "13812345678",
        "liwei@example.com",
        timeZone="Asia/Shanghai",
        locale=locale,
    )
    app = await api.application(client, admin, cand, job)
    opens = NOON + timedelta(days=4)
    iid = await schedule(client, admin, app, opens)
    link = (await interview(client, admin, iid))["candidateLink"]
    return {
        "tenant": tenant,
        "admin": admin,
        "interview": iid,
        "pk": from_global(iid)[1],
        "candidate": cand,
        "candidate_pk": from_global(cand)[1],
        "opens": opens,
        "link": link,
    }


@pytest.fixture
async def world(client) -> dict:
    return await make_world(client)


async def set_vendor(client, admin: str, template: str = TEMPLATE, secret=VENDOR_SECRET):
    r = await gql(client, SET_VENDOR, {"t": template, "s": secret}, token=admin)
    return r.json()["data"]["setInterviewVendor"]


async def post_event(
    client: httpx.AsyncClient,
    slug: str,
    body: dict | bytes,
    secret: str | None = VENDOR_SECRET,
    signature: str | None = None,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else orjson.dumps(body)
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers["x-turnout-signature"] = signature
    elif secret is not None:
        headers["x-turnout-signature"] = sign(secret, raw)
    return await client.post(f"/webhooks/interview-vendor/{slug}", content=raw, headers=headers)


def event(iid: str, kind: str, event_id: str, **extra) -> dict:
    return {
        "event_id": event_id,
        "type": kind,
        "interview_id": iid,
        "occurred_at": datetime.now(UTC).isoformat(),
        **extra,
    }


async def evidence_kinds(tenant, candidate_pk) -> list[str]:
    """The portal's and the vendor's events on the candidate's chain (state changes and
    message events are other modules' to record)."""
    async with tenant_session(tenant.ref) as s:
        rows, _, _ = await evidence.timeline_page(s, candidate_pk, 100, None)
    return [r.kind for r in rows if r.kind.startswith(("portal.", "vendor."))]


async def rows(tenant, model) -> list:
    async with tenant_session(tenant.ref) as s:
        return list((await s.execute(select(model))).scalars())


async def tenant_named(slug: str):
    async with public_session() as s:
        return await tenancy.tenant_by_slug(s, slug)
