"""Tenant A's principals try, in a thousand generated ways, to reach tenant B's data."""

from __future__ import annotations

import asyncio
import json

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from tests.helpers import LOGIN, PASSWORD, make_tenant, make_user
from turnout.auth import clients
from turnout.db.engine import db
from turnout.db.session import public_session
from turnout.tenancy import service as tenancy

B_EMAILS = ["admin@beta.example", "nurse@beta.example"]

OPERATIONS = [
    "{ me { email roles tenant { slug name } } }",
    "{ users(first: 50) { totalCount edges { node { id email roles } } } }",
    "{ tenant { slug name packs } }",
    '{ packSettings(pack: "hospital") { key value } }',
    "{ hospitalSettings { key value } }",
    "{ tenants { edges { node { slug } } } }",
    'mutation { createUser(input: {email: "mole@intruder.example", password: "'
    + PASSWORD
    + '", roles: ["tenant_admin"]}) { __typename ... on UserPayload { user { email } } } }',
    'mutation { updateUserRoles(userId: "{B_USER}", roles: ["auditor"]) { __typename '
    "... on UserPayload { user { email roles } } } }",
    'mutation { deactivateUser(userId: "{B_USER}") { __typename '
    "... on UserPayload { user { email active } } } }",
    'mutation { setPackSetting(pack: "hospital", key: "flexible_window_days", value: 9) '
    "{ __typename ... on PackSettingPayload { setting { key value } } } }",
    'mutation { suspendTenant(slug: "beta") { __typename ... on TenantPayload '
    "{ tenant { slug status } } } }",
    'mutation { setTenantPacks(slug: "beta", packs: []) { __typename } }',
    'mutation { login(email: "admin@alpha.example", password: "'
    + PASSWORD
    + '", tenant: "beta") { __typename ... on LoginPayload { me { tenant { slug } } } } }',
    # Recruiting: B's ids in A's requests, and A's lists that must not contain B's rows.
    '{ candidate(id: "{B_CAND}") { name phone email interviews { state } } }',
    '{ node(id: "{B_CAND}") { id ... on Candidate { name email } } }',
    '{ node(id: "{B_INTERVIEW}") { id ... on Interview { state candidateLink } } }',
    '{ job(id: "{B_JOB}") { title } }',
    '{ interview(id: "{B_INTERVIEW}") { state candidate { name } } }',
    "{ candidates(first: 50) { totalCount edges { node { name email phone } } } }",
    '{ candidates(first: 50, filter: {search: "Secret"}) { edges { node { name } } } }',
    "{ interviews(first: 50) { edges { node { state candidate { name } job { title } } } } }",
    "{ jobs(first: 50) { edges { node { title } } } }",
    'mutation { updateCandidate(id: "{B_CAND}", input: {name: "pwned"}) { __typename '
    "... on CandidatePayload { candidate { name } } } }",
    'mutation { apply(candidateId: "{B_CAND}", jobId: "{B_JOB}") { __typename '
    "... on ApplicationPayload { application { stage } } } }",
    'mutation { transitionInterview(id: "{B_INTERVIEW}", state: "cancelled") { __typename '
    "... on InterviewPayload { interview { state } } } }",
    'mutation { updateJob(id: "{B_JOB}", input: {status: "closed"}) { __typename } }',
    # Evidence and the portal's back office: B's trail, B's follow-ups, B's interviews.
    '{ candidate(id: "{B_CAND}") { timeline(first: 20) { totalCount edges { node { kind '
    "data } } } } }",
    'mutation { exportEvidence(candidateId: "{B_CAND}") { __typename '
    "... on EvidenceExportPayload { filename events archiveBase64 } } }",
    "mutation { sealEvidence { __typename } }",
    "{ followUps(first: 20) { edges { node { id } } } }",
    "{ interviewVendor { __typename } }",
    'mutation { recordInterviewVendorEvent(input: {eventId: "x-1", type: "started", '
    'occurredAt: "2026-11-30T00:00:00Z", interviewId: "{B_INTERVIEW}"}) { __typename } }',
]


async def _world(app) -> dict:
    # Alpha has the hospital pack too, so B's pack fields exist in A's own schema.
    await make_tenant("alpha", ["hospital"])
    await make_tenant("beta", ["hospital"])
    await make_user("alpha", "rec@alpha.example", ["recruiter"])
    nurse = await make_user("beta", "nurse@beta.example", ["recruiter"])
    async with public_session() as s:
        alpha = await tenancy.tenant_by_slug(s, "alpha")
        row, secret = await clients.create_client(s, alpha, "hr", clients.known_scopes())
        await s.commit()
    transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 1))
    principals = {}
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost") as c:
        for email in ("admin@alpha.example", "rec@alpha.example"):
            r = await c.post(
                "/graphql",
                json={"query": LOGIN, "variables": {"e": email, "p": PASSWORD, "t": "alpha"}},
            )
            res = r.json()["data"]["login"]
            principals[email] = {"Authorization": f"Bearer {res['bearerToken']}"}
            principals[email + "/cookie"] = {
                "Cookie": f"turnout_session={c.cookies['turnout_session']}",
                "X-CSRF-Token": res["csrfToken"],
            }
            c.cookies.clear()
        tok = await c.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(row.client_id, secret)
        )
        principals["client"] = {"Authorization": f"Bearer {tok.json()['access_token']}"}
    b_ids = await _beta_recruiting()
    return {
        "principals": principals,
        "b_user": str(nurse.id),
        **b_ids,
        "snapshot": await _snapshot(),
    }


async def _beta_recruiting() -> dict:
    """A job, candidate, application and interview in B, made through B's own services."""
    from datetime import timedelta

    from turnout.crypto.fields import cipher_for
    from turnout.db.session import tenant_session
    from turnout.graphql.relay import to_global
    from turnout.kit.clock import clock
    from turnout.recruiting import scheduling, service

    async with public_session() as s:
        beta = await tenancy.tenant_by_slug(s, "beta")
    async with tenant_session(beta.ref) as s:
        cipher = await cipher_for(s, beta.id)
        job = await service.create_job(s, service.JobFields(title="Secret Beta Job", status="open"))
        cand = await service.create_candidate(
            s,
            cipher,
            service.CandidateFields(
                name="Secret Beta Person", phone="13711112222", email="secret@beta.example"
            ),
        )
        app = await service.apply(s, cand.id, job.id, 90, "seed")
        iv = await scheduling.schedule(
            s,
            cipher,
            scheduling.InterviewRequest(
                app.id, "ai_async", clock.now() + timedelta(days=1), clock.now() + timedelta(days=2)
            ),
            "seed",
        )
        await s.commit()
    return {
        "b_cand": str(to_global("Candidate", cand.id)),
        "b_job": str(to_global("Job", job.id)),
        "b_interview": str(to_global("Interview", iv.id)),
    }


async def _snapshot() -> str:
    async with db.engine().connect() as conn:
        parts = []
        for sql in (
            "SELECT slug, name, status, packs FROM public.tenants WHERE slug = 'beta'",
            "SELECT u.email, m.roles, m.active, u.active, u.password_hash FROM public.users u "
            "JOIN public.memberships m ON m.user_id = u.id JOIN public.tenants t "
            "ON t.id = m.tenant_id WHERE t.slug = 'beta' ORDER BY u.email",
            "SELECT pack, key, value FROM tenant_beta.pack_settings ORDER BY pack, key",
            "SELECT name, updated_at FROM tenant_beta.candidates ORDER BY id",
            "SELECT title, status, updated_at FROM tenant_beta.jobs ORDER BY id",
            "SELECT state, updated_at FROM tenant_beta.interviews ORDER BY id",
            "SELECT stage, updated_at FROM tenant_beta.applications ORDER BY id",
            "SELECT chain, seq, hash FROM tenant_beta.evidence_heads ORDER BY chain",
            "SELECT id FROM tenant_beta.evidence_checkpoints ORDER BY id",
            "SELECT event_id FROM tenant_beta.vendor_events ORDER BY event_id",
        ):
            parts.append([tuple(map(str, r)) for r in (await conn.execute(text(sql))).all()])
    return json.dumps(parts)


attempts = st.fixed_dictionaries(
    {
        "principal": st.sampled_from(
            [
                "admin@alpha.example",
                "rec@alpha.example",
                "admin@alpha.example/cookie",
                "rec@alpha.example/cookie",
                "client",
            ]
        ),
        "route": st.sampled_from(
            ["header", "host", "both", "host-upper", "none", "header-alpha", "header-padded"]
        ),
        "operation": st.sampled_from(OPERATIONS),
        "alias": st.booleans(),
    }
)


def _request(world: dict, attempt: dict) -> tuple[dict, dict]:
    headers = dict(world["principals"][attempt["principal"]])
    route = attempt["route"]
    if route in ("header", "both"):
        headers["X-Tenant"] = "beta"
    if route in ("host", "both"):
        headers["Host"] = "beta.localhost"
    if route == "host-upper":
        headers["Host"] = "BETA.localhost:8000"
    if route == "header-padded":
        headers["X-Tenant"] = " Beta "
    if route == "header-alpha":  # names its own tenant, acts on B's ids
        headers["X-Tenant"] = "alpha"
    query = attempt["operation"].replace("{B_USER}", world["b_user"])
    for key in ("b_cand", "b_job", "b_interview"):
        query = query.replace("{" + key.upper() + "}", world[key])
    if attempt["alias"]:
        query = query.replace("{ ", "{ sneaky: ", 1)
    return headers, {"query": query}


def test_no_principal_of_tenant_a_reaches_tenant_b(setup_db, app):
    loop = asyncio.new_event_loop()
    world = loop.run_until_complete(_world(app))
    transport = httpx.ASGITransport(app=app, client=("10.9.9.9", 1))
    client = httpx.AsyncClient(transport=transport, base_url="http://localhost")
    outcomes = {"refused": 0, "answered_without_b": 0}

    @settings(
        max_examples=1000, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )
    @given(attempt=attempts)
    def attempt_is_refused(attempt):
        headers, body = _request(world, attempt)
        r = loop.run_until_complete(client.post("/graphql", json=body, headers=headers))
        if r.status_code in (401, 403, 404):
            outcomes["refused"] += 1
            return
        assert r.status_code == 200, r.text
        secrets = ["beta", "Beta", "Secret", "13711112222", *B_EMAILS, world["b_user"]]
        leaked = [s for s in secrets if s in r.text]
        assert not leaked, (attempt, r.text)
        # the archive is base64: no plain-text secret would show, so no archive at all
        assert "EvidenceExportPayload" not in r.text, (attempt, r.text)
        outcomes["answered_without_b"] += 1

    try:
        attempt_is_refused()
        assert loop.run_until_complete(_snapshot()) == world["snapshot"]
    finally:
        loop.run_until_complete(client.aclose())
        loop.run_until_complete(db.dispose())
        loop.close()
    print("cross-tenant attempts:", outcomes)
    assert sum(outcomes.values()) >= 1000
    assert outcomes["refused"] > 0 and outcomes["answered_without_b"] > 0
