"""exportEvidence, sealEvidence and Candidate.timeline over HTTP: allowed and refused roles,
bad input, and tenant B never reaching tenant A's evidence."""

from __future__ import annotations

import base64
import hashlib
import io
import itertools
import uuid
import zipfile

import pytest
from sqlalchemy import func, select

from tests.evidence.conftest import add_events
from tests.helpers import gql, make_tenant, make_user, token_for
from tests.recruiting import api
from turnout.db.session import public_session, tenant_session
from turnout.evidence import canonical as C
from turnout.evidence.models import EvidenceCheckpoint, EvidenceEvent
from turnout.evidence.verify import parse_bundle, verify_bundle
from turnout.graphql.relay import from_global, to_global

EXPORT = """mutation($c: ID!) { exportEvidence(candidateId: $c) { __typename
  ... on EvidenceExportPayload { filename sha256 archiveBase64 events checkpointId includesPdf }
  ... on NotFoundError { message path } ... on InvalidInputError { errors { path message } } } }"""
SEAL = """mutation { sealEvidence { __typename
  ... on SealEvidencePayload { checkpoint { id chains events root keyId sealedAt } }
  ... on ConflictError { message } } }"""
TIMELINE = """query($id: ID!, $first: Int, $after: String, $kinds: [String!]) {
  candidate(id: $id) { name timeline(first: $first, after: $after, kinds: $kinds) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { seq kind actor interviewId data hash prevHash occurredAt } } } } }"""


@pytest.fixture
async def acme(client):
    """acme with a user per role, a candidate with a live interview with the interviewer user,
    and evidence on that interview and on another one."""
    tenant = await make_tenant("acme")
    admin = await token_for(client, "admin@acme.example", "acme")
    for role in ("recruiter", "interviewer", "compliance", "auditor"):
        await make_user("acme", f"{role}@acme.example", [role])
    from turnout.auth.models import User

    async with public_session() as s:
        iv_user = await s.scalar(select(User.id).where(User.email == "interviewer@acme.example"))
    job = await api.job(client, admin)
    cand_gid = await api.candidate(client, admin, "王芳", "13912345678", "wf@example.com")
    app = await api.application(client, admin, cand_gid, job)
    _, slot = await api.interviewer_with_slot(client, admin, user_id=str(iv_user))
    iv = await api.ok(
        client,
        api.SCHEDULE,
        {"i": {"applicationId": app, "kind": "live", "slotId": slot}},
        admin,
        "scheduleInterview",
    )
    cand = from_global(cand_gid)[1]
    interview = from_global(iv["interview"]["id"])[1]
    await add_events(tenant, cand, 4, interview)  # even positions are on the interview
    await add_events(tenant, cand, 3, uuid.uuid4())  # another interview's
    tokens = {"tenant_admin": admin}
    for role in ("recruiter", "interviewer", "compliance", "auditor"):
        tokens[role] = await token_for(client, f"{role}@acme.example", "acme")
    return {"tenant": tenant, "tokens": tokens, "gid": cand_gid, "cand": cand, "iv": interview}


async def _chain_length(tenant, cand) -> int:
    async with tenant_session(tenant.ref) as s:
        return await s.scalar(
            select(func.count()).where(EvidenceEvent.chain == C.candidate_chain(cand))
        )


@pytest.mark.parametrize("role", ["tenant_admin", "auditor", "compliance"])
async def test_export_for_allowed_roles(client, acme, role):
    before = await _chain_length(acme["tenant"], acme["cand"])
    r = await gql(client, EXPORT, {"c": acme["gid"]}, token=acme["tokens"][role])
    res = r.json()["data"]["exportEvidence"]
    assert res["__typename"] == "EvidenceExportPayload", r.json()
    data = base64.b64decode(res["archiveBase64"])
    assert hashlib.sha256(data).hexdigest() == res["sha256"]
    assert res["filename"].startswith("evidence-acme-") and res["filename"].endswith(".zip")
    names = zipfile.ZipFile(io.BytesIO(data)).namelist()
    assert "bundle.json" in names
    if res["includesPdf"]:
        assert zipfile.ZipFile(io.BytesIO(data)).read("timeline.pdf").startswith(b"%PDF")
    bundle = parse_bundle(data)
    assert verify_bundle(bundle).ok and len(bundle["events"]) == before == res["events"]
    async with tenant_session(acme["tenant"].ref) as s:  # the export itself is on the trail
        last = await s.scalar(
            select(EvidenceEvent)
            .where(EvidenceEvent.chain == C.candidate_chain(acme["cand"]))
            .order_by(EvidenceEvent.seq.desc())
            .limit(1)
        )
    assert last.kind == "evidence.exported" and last.data["sha256"] == res["sha256"]
    assert last.actor == f"user:{role if role != 'tenant_admin' else 'admin'}@acme.example"


@pytest.mark.parametrize("role", ["recruiter", "interviewer"])
async def test_export_refused_for_other_roles(client, acme, role):
    body = (await gql(client, EXPORT, {"c": acme["gid"]}, token=acme["tokens"][role])).json()
    assert body["data"] is None or body["data"]["exportEvidence"] is None
    assert "evidence.export" in body["errors"][0]["message"]
    async with tenant_session(acme["tenant"].ref) as s:
        assert await s.scalar(select(func.count()).select_from(EvidenceCheckpoint)) == 0


async def test_export_bad_and_unknown_ids(client, acme):
    admin = acme["tokens"]["tenant_admin"]
    res = (await gql(client, EXPORT, {"c": "nonsense"}, token=admin)).json()["data"]
    assert res["exportEvidence"]["__typename"] == "InvalidInputError"
    job = await api.job(client, admin, "Other")
    res = (await gql(client, EXPORT, {"c": job}, token=admin)).json()["data"]
    assert res["exportEvidence"]["errors"][0]["message"].endswith("expected: Candidate")
    ghost = api_gid(uuid.uuid4())
    res = (await gql(client, EXPORT, {"c": ghost}, token=admin)).json()["data"]
    assert res["exportEvidence"] == {
        "__typename": "NotFoundError",
        "message": "no candidate with this id",
        "path": ["candidateId"],
    }


def api_gid(pk: uuid.UUID) -> str:
    return str(to_global("Candidate", pk))


async def test_other_tenant_cannot_export_seal_or_read_timeline(client, acme):
    await make_tenant("beta")
    beta = await token_for(client, "admin@beta.example", "beta")
    res = (await gql(client, EXPORT, {"c": acme["gid"]}, token=beta)).json()["data"]
    assert res["exportEvidence"]["__typename"] == "NotFoundError"
    # naming acme while signed in to beta is refused before any resolver runs
    r = await gql(client, EXPORT, {"c": acme["gid"]}, token=beta, tenant="acme")
    assert r.status_code == 403
    res = (await gql(client, TIMELINE, {"id": acme["gid"]}, token=beta)).json()
    assert res["data"]["candidate"] is None
    res = (await gql(client, SEAL, token=beta)).json()["data"]["sealEvidence"]
    assert res["__typename"] == "ConflictError"  # beta has no evidence; acme's is not seen
    async with tenant_session(acme["tenant"].ref) as s:
        assert await s.scalar(select(func.count()).select_from(EvidenceCheckpoint)) == 0


@pytest.mark.parametrize(
    "role, allowed",
    [("compliance", True), ("tenant_admin", True), ("auditor", False), ("recruiter", False)],
)
async def test_seal_evidence_roles(client, acme, role, allowed):
    body = (await gql(client, SEAL, token=acme["tokens"][role])).json()
    if allowed:
        cp = body["data"]["sealEvidence"]["checkpoint"]
        assert cp["chains"] == 1 and cp["events"] == await _chain_length(
            acme["tenant"], acme["cand"]
        )
        assert cp["keyId"].startswith("ed25519-")
    else:
        assert "evidence.seal" in body["errors"][0]["message"]


async def test_timeline_pages_and_filters(client, acme):
    admin = acme["tokens"]["tenant_admin"]
    total = await _chain_length(acme["tenant"], acme["cand"])
    seen, after = [], None
    while True:
        r = await gql(
            client, TIMELINE, {"id": acme["gid"], "first": 3, "after": after}, token=admin
        )
        tl = r.json()["data"]["candidate"]["timeline"]
        assert tl["totalCount"] == total
        seen += [e["node"] for e in tl["edges"]]
        if not tl["pageInfo"]["hasNextPage"]:
            break
        after = tl["pageInfo"]["endCursor"]
    assert [e["seq"] for e in seen] == list(range(1, total + 1))
    assert all(b["prevHash"] == a["hash"] for a, b in itertools.pairwise(seen))
    mine = [e for e in seen if e["kind"] == "link.opened"]
    assert mine and mine[0]["data"]["note"] == "打开了链接"
    r = await gql(client, TIMELINE, {"id": acme["gid"], "kinds": ["link.opened"]}, token=admin)
    tl = r.json()["data"]["candidate"]["timeline"]
    assert [e["node"]["seq"] for e in tl["edges"]] == [e["seq"] for e in mine]
    bad = await gql(client, TIMELINE, {"id": acme["gid"], "kinds": ["NOT A KIND"]}, token=admin)
    assert "kinds" in bad.json()["errors"][0]["message"]
    bad = await gql(client, TIMELINE, {"id": acme["gid"], "after": "zzz"}, token=admin)
    assert "cursor" in bad.json()["errors"][0]["message"]


async def test_timeline_permissions(client, acme):
    t = acme["tokens"]
    res = (await gql(client, TIMELINE, {"id": acme["gid"]}, token=t["interviewer"])).json()
    nodes = [e["node"] for e in res["data"]["candidate"]["timeline"]["edges"]]
    iv_gid = str(to_global("Interview", acme["iv"]))
    assert nodes and {n["interviewId"] for n in nodes} == {iv_gid}  # their interview only
    # compliance reads no interviews, but the whole trail it may export
    for role in ("compliance", "auditor"):
        res = (await gql(client, TIMELINE, {"id": acme["gid"]}, token=t[role])).json()
        assert res["data"]["candidate"]["timeline"]["totalCount"] == await _chain_length(
            acme["tenant"], acme["cand"]
        ), role


@pytest.mark.parametrize("raw", ["²", "١٢", "-1", "1.5", ""])
async def test_a_cursor_of_other_digits_is_a_clear_error(client, acme, raw):
    from turnout.kit.pagination import encode_cursor

    admin = acme["tokens"]["tenant_admin"]
    after = encode_cursor(raw)  # '²'.isdigit() is True, but int('²') raised: a 500
    r = await gql(client, TIMELINE, {"id": acme["gid"], "after": after}, token=admin)
    assert "not a cursor this API issued" in r.json()["errors"][0]["message"], r.json()
