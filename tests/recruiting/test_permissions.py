"""Every (role, sensitive field) cell through real GraphQL requests: direct, nested, aliased,
fragments and `node`. The expectations are written out here, from the issue's matrix, not
derived from the code; a second test keeps docs/permissions.md equal to the code's matrix."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from tests.helpers import PASSWORD, gql, make_operator, make_tenant, make_user, token_for
from tests.recruiting import api
from turnout.auth import clients
from turnout.auth.models import User
from turnout.db.session import public_session
from turnout.graphql.schema import permission_doc
from turnout.tenancy import service as tenancy

ROOT = Path(__file__).resolve().parents[2]
PLAIN = {
    "name": "Zhang San",
    "phone": "13812345678",
    "email": "zhang@example.com",
    "wechatOpenId": "oWX-123456",
    "pushToken": "fcm-token-xyz",
    "idNumber": "110101199001011234",
    "notes": "prefers mornings",
}
MASK = {
    "phone": "138****5678",
    "email": "z***@example.com",
    "wechatOpenId": "****",
    "idNumber": "****",
}
Y, M, N = "yes", "masked", "no"
# principal -> field -> expected outcome; "root" = the whole query is forbidden.
EXPECT = {
    "tenant_admin": dict.fromkeys(PLAIN, Y),
    "recruiter": dict.fromkeys(PLAIN, Y),
    "auditor": dict.fromkeys(PLAIN, Y),
    "interviewer": {
        "name": Y,
        "phone": M,
        "email": M,
        "wechatOpenId": M,
        "idNumber": M,
        "pushToken": N,
        "notes": N,
    },
    "compliance": {
        "name": Y,
        "phone": M,
        "email": M,
        "wechatOpenId": M,
        "idNumber": M,
        "pushToken": N,
        "notes": N,
    },
    "scope:candidates:read": {**dict.fromkeys(PLAIN, Y), "notes": N},
    "scope:candidates:write": {
        "name": Y,
        "phone": M,
        "email": M,
        "wechatOpenId": M,
        "idNumber": M,
        "pushToken": N,
        "notes": N,
    },
    "vendor_operator": dict.fromkeys(PLAIN, "root"),
    "scope:jobs:read": dict.fromkeys(PLAIN, "root"),
}
# Which principals reach the candidate through `interviews` (the rest are denied there).
INTERVIEW_READERS = {"tenant_admin", "recruiter", "auditor", "interviewer"}


def shapes(field: str, cid: str) -> dict[str, tuple[str, list[str]]]:
    """name -> (query, path to the value). Paths name aliases where the query uses them."""
    return {
        "direct": (f'{{ candidate(id: "{cid}") {{ {field} }} }}', ["candidate", field]),
        "aliased": (f'{{ who: candidate(id: "{cid}") {{ f: {field} }} }}', ["who", "f"]),
        "connection": (
            "{ candidates(first: 5) { edges { node { " + field + " } } } }",
            ["candidates", "edges", 0, "node", field],
        ),
        "fragment": (
            f'{{ candidate(id: "{cid}") {{ ...C }} }} fragment C on Candidate {{ {field} }}',
            ["candidate", field],
        ),
        "node": (f'{{ node(id: "{cid}") {{ ... on Candidate {{ {field} }} }} }}', ["node", field]),
        "via_interviews": (
            "{ interviews(first: 5) { edges { node { candidate { x: " + field + " } } } } }",
            ["interviews", "edges", 0, "node", "candidate", "x"],
        ),
    }


def dig(data, path):
    for p in path:
        if data is None:
            return None
        data = data[p]
    return data


@pytest.fixture
async def world(client):
    await make_tenant("acme", ["hospital"])
    admin = await token_for(client, "admin@acme.example", "acme")
    for role in ("recruiter", "interviewer", "compliance", "auditor"):
        await make_user("acme", f"{role}@acme.example", [role])
    async with public_session() as s:
        iv_user = (
            await s.execute(select(User.id).where(User.email == "interviewer@acme.example"))
        ).scalar_one()
    job = await api.job(client, admin)
    cand = (
        await api.ok(
            client,
            api.CREATE_CANDIDATE,
            {
                "i": {
                    "name": PLAIN["name"],
                    "phone": PLAIN["phone"],
                    "email": PLAIN["email"],
                    "wechatOpenId": PLAIN["wechatOpenId"],
                    "pushToken": PLAIN["pushToken"],
                    "idNumber": PLAIN["idNumber"],
                    "notes": PLAIN["notes"],
                }
            },
            admin,
            "createCandidate",
        )
    )["candidate"]["id"]
    app = await api.application(client, admin, cand, job)
    _, slot = await api.interviewer_with_slot(client, admin, user_id=str(iv_user))
    await api.ok(
        client,
        api.SCHEDULE,
        {"i": {"applicationId": app, "kind": "live", "slotId": slot}},
        admin,
        "scheduleInterview",
    )
    tokens = {"tenant_admin": admin}
    for role in ("recruiter", "interviewer", "compliance", "auditor"):
        tokens[role] = await token_for(client, f"{role}@acme.example", "acme")
    await make_operator()
    tokens["vendor_operator"] = await token_for(client, "op@vendor.example", None)
    async with public_session() as s:
        tenant = await tenancy.tenant_by_slug(s, "acme")
        made = {
            scope: await clients.create_client(s, tenant, scope, [scope])
            for scope in ("candidates:read", "candidates:write", "jobs:read")
        }
        await s.commit()
    for scope, (row, secret) in made.items():
        r = await client.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(row.client_id, secret)
        )
        tokens[f"scope:{scope}"] = r.json()["access_token"]
    return {"tokens": tokens, "candidate": cand}


async def test_every_role_and_sensitive_field_on_every_path(client, world):
    checked = 0
    for principal, fields in EXPECT.items():
        token = world["tokens"][principal]
        for field, expected in fields.items():
            for shape, (query, path) in shapes(field, world["candidate"]).items():
                body = (await gql(client, query, token=token)).json()
                where = (principal, field, shape, body)
                if expected == "root" or (
                    shape == "via_interviews"
                    and principal not in INTERVIEW_READERS
                    and not principal.startswith("scope:")
                ):
                    assert body["data"] is None or dig(body["data"], path[:1]) is None, where
                    assert any("forbidden" in e["message"] for e in body["errors"]), where
                elif shape == "via_interviews" and principal.startswith("scope:"):
                    # These integrator scopes carry no interviews.read: denied at the root.
                    assert any("forbidden" in e["message"] for e in body["errors"]), where
                elif expected == Y:
                    assert not body.get("errors"), where
                    assert dig(body["data"], path) == PLAIN[field], where
                elif expected == M:
                    assert not body.get("errors"), where
                    assert dig(body["data"], path) == MASK[field], where
                else:
                    assert dig(body["data"], path) is None, where
                    errors = [e for e in body["errors"] if "forbidden" in e["message"]]
                    assert errors and errors[0]["path"][-1] == path[-1], where
                    assert PLAIN[field] not in str(body), where
                checked += 1
    assert checked == sum(len(f) for f in EXPECT.values()) * 6


async def test_auditor_reads_everything_and_changes_nothing(client, world):
    auditor = world["tokens"]["auditor"]
    r = await gql(
        client, "{ interviews(first: 5) { totalCount edges { node { state } } } }", token=auditor
    )
    assert r.json()["data"]["interviews"]["totalCount"] == 1
    for query, variables in [
        (api.CREATE_CANDIDATE, {"i": {"name": "X", "phone": "13900000000"}}),
        (api.CREATE_JOB, {"i": {"title": "Y"}}),
        (
            'mutation($c: ID!) { updateCandidate(id: $c, input: {name: "Z"}) { __typename } }',
            {"c": world["candidate"]},
        ),
    ]:
        body = (await gql(client, query, variables, token=auditor)).json()
        assert body["data"] is None and "forbidden" in body["errors"][0]["message"]


async def test_interviewer_sees_only_their_interviews_and_candidates(client, world):
    admin = world["tokens"]["tenant_admin"]
    job = await api.job(client, admin, "Porter")
    other = await api.candidate(client, admin, "Wang Wu", "13900001111", "wang@example.com")
    await api.ai_interview(client, admin, await api.application(client, admin, other, job))
    iv = world["tokens"]["interviewer"]
    names = (
        await gql(
            client, "{ candidates(first: 10) { totalCount edges { node { name } } } }", token=iv
        )
    ).json()["data"]["candidates"]
    assert [e["node"]["name"] for e in names["edges"]] == ["Zhang San"]
    assert names["totalCount"] == 1
    assert (await gql(client, f'{{ candidate(id: "{other}") {{ name }} }}', token=iv)).json()[
        "data"
    ]["candidate"] is None
    ivs = (await gql(client, "{ interviews(first: 10) { totalCount } }", token=iv)).json()
    assert ivs["data"]["interviews"]["totalCount"] == 1
    everyone = (await gql(client, "{ interviews(first: 10) { totalCount } }", token=admin)).json()
    assert everyone["data"]["interviews"]["totalCount"] == 2


def test_docs_permissions_md_is_generated_from_the_code():
    committed = (ROOT / "docs" / "permissions.md").read_text()
    assert committed == permission_doc(), "run `turnout permissions doc > docs/permissions.md`"


async def test_operator_has_no_candidate_data_even_by_password(client, world):
    # An operator who is also given a tenant login is a different principal; the operator
    # session itself never binds a tenant.
    op = world["tokens"]["vendor_operator"]
    r = await gql(client, "{ candidates(first: 1) { totalCount } }", token=op, tenant="acme")
    assert r.status_code == 403
    assert PASSWORD  # the operator's password works only for the vendor console
