"""Tenant admins manage users through GraphQL and the CLI; bad input changes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.cli import turnout
from tests.helpers import PASSWORD, gql, login, make_tenant, make_user, token_for
from turnout.auth.models import Membership, User
from turnout.db.session import public_session

CREATE = """mutation($i: CreateUserInput!) { createUser(input: $i) {
  __typename
  ... on UserPayload { user { id email roles active displayName } }
  ... on InvalidInputError { code errors { path code message } }
  ... on ConflictError { code message path } } }"""
ROLES = """mutation($u: ID!, $r: [String!]!) { updateUserRoles(userId: $u, roles: $r) {
  __typename ... on UserPayload { user { email roles } }
  ... on InvalidInputError { errors { path code message } }
  ... on NotFoundError { message path } } }"""
DEACTIVATE = """mutation($u: ID!) { deactivateUser(userId: $u) {
  __typename ... on UserPayload { user { email active } }
  ... on InvalidInputError { errors { path code message } }
  ... on NotFoundError { message } } }"""
USERS = """query($n: Int, $a: String) { users(first: $n, after: $a) {
  totalCount pageInfo { hasNextPage endCursor } edges { cursor node { email roles } } } }"""


async def _members() -> int:
    async with public_session() as s:
        return await s.scalar(select(func.count()).select_from(Membership))


@pytest.fixture
async def admin(client):
    await make_tenant("acme")
    return await token_for(client, "admin@acme.example", "acme")


async def test_admin_creates_user_who_can_sign_in(client, admin):
    r = await gql(
        client,
        CREATE,
        {
            "i": {
                "email": "Rita@Acme.example",
                "password": PASSWORD,
                "roles": ["recruiter", "interviewer"],
                "displayName": "Rita",
            }
        },
        token=admin,
    )
    user = r.json()["data"]["createUser"]["user"]
    assert user["email"] == "rita@acme.example"
    assert user["roles"] == ["interviewer", "recruiter"] and user["active"] is True
    res = await login(client, "rita@acme.example", "acme")
    assert res["me"]["roles"] == ["interviewer", "recruiter"]


@pytest.mark.parametrize(
    ("inp", "paths"),
    [
        ({"email": "nope", "password": PASSWORD, "roles": ["recruiter"]}, [["email"]]),
        ({"email": "a@acme.example", "password": "short", "roles": ["recruiter"]}, [["password"]]),
        (
            {"email": "a@acme.example", "password": "qwertyuiop", "roles": ["recruiter"]},
            [["password"]],
        ),
        ({"email": "a@acme.example", "password": PASSWORD, "roles": []}, [["roles"]]),
        ({"email": "a@acme.example", "password": PASSWORD, "roles": ["wizard"]}, [["roles"]]),
        (
            {"email": "a@acme.example", "password": PASSWORD, "roles": ["vendor_operator"]},
            [["roles"]],
        ),
    ],
)
async def test_create_user_bad_input(client, admin, inp, paths):
    before = await _members()
    r = await gql(client, CREATE, {"i": inp}, token=admin)
    res = r.json()["data"]["createUser"]
    assert res["__typename"] == "InvalidInputError"
    assert [e["path"] for e in res["errors"]] == paths
    assert all(e["message"] for e in res["errors"])
    assert await _members() == before


async def test_duplicate_member_is_a_conflict(client, admin):
    inp = {"email": "admin@acme.example", "password": PASSWORD, "roles": ["recruiter"]}
    res = (await gql(client, CREATE, {"i": inp}, token=admin)).json()["data"]["createUser"]
    assert res == {
        "__typename": "ConflictError",
        "code": "conflict",
        "path": ["email"],
        "message": "admin@acme.example is already a member of acme",
    }


async def test_user_in_two_tenants_keeps_one_password(client, admin):
    await make_tenant("beta")
    await make_user("beta", "rita@acme.example", ["recruiter"])
    inp = {"email": "rita@acme.example", "password": "some other password 9", "roles": ["auditor"]}
    res = (await gql(client, CREATE, {"i": inp}, token=admin)).json()["data"]["createUser"]
    assert res["__typename"] == "UserPayload"
    assert (await login(client, "rita@acme.example", "acme"))["me"]["roles"] == ["auditor"]
    assert (await login(client, "rita@acme.example", "beta"))["me"]["roles"] == ["recruiter"]


async def test_update_roles_and_deactivate(client, admin):
    rita = await make_user("acme", "rita@acme.example", ["recruiter"])
    rita_token = await token_for(client, "rita@acme.example", "acme")
    r = await gql(client, ROLES, {"u": str(rita.id), "r": ["auditor"]}, token=admin)
    assert r.json()["data"]["updateUserRoles"]["user"]["roles"] == ["auditor"]
    me = await gql(client, "{ me { roles } }", token=rita_token)
    assert me.json()["data"]["me"]["roles"] == ["auditor"]  # takes effect at once

    r = await gql(client, DEACTIVATE, {"u": str(rita.id)}, token=admin)
    assert r.json()["data"]["deactivateUser"]["user"] == {
        "email": "rita@acme.example",
        "active": False,
    }
    assert (await gql(client, "{ me { roles } }", token=rita_token)).status_code == 401
    assert (await login(client, "rita@acme.example", "acme"))["code"] == "forbidden"


async def test_role_changes_bad_input(client, admin):
    rita = await make_user("acme", "rita@acme.example", ["recruiter"])
    async with public_session() as s:
        admin_id = (
            await s.execute(select(User.id).where(User.email == "admin@acme.example"))
        ).scalar_one()
    cases = [
        ({"u": str(rita.id), "r": ["wizard"]}, "InvalidInputError"),
        ({"u": str(rita.id), "r": []}, "InvalidInputError"),
        ({"u": "not-a-uuid", "r": ["auditor"]}, "InvalidInputError"),
        ({"u": "00000000-0000-0000-0000-000000000000", "r": ["auditor"]}, "NotFoundError"),
        ({"u": str(admin_id), "r": ["recruiter"]}, "InvalidInputError"),  # self-lockout
    ]
    for variables, kind in cases:
        r = await gql(client, ROLES, variables, token=admin)
        assert r.json()["data"]["updateUserRoles"]["__typename"] == kind, variables
    d = await gql(client, DEACTIVATE, {"u": str(admin_id)}, token=admin)
    assert d.json()["data"]["deactivateUser"]["__typename"] == "InvalidInputError"
    async with public_session() as s:
        roles = dict(
            (
                await s.execute(
                    select(User.email, Membership.roles).join(
                        Membership, Membership.user_id == User.id
                    )
                )
            ).all()
        )
    assert roles == {"admin@acme.example": ["tenant_admin"], "rita@acme.example": ["recruiter"]}


async def test_users_is_a_paginated_connection(client, admin):
    for i in range(5):
        await make_user("acme", f"user{i}@acme.example", ["interviewer"])
    seen, after = [], None
    while True:
        page = (await gql(client, USERS, {"n": 2, "a": after}, token=admin)).json()
        conn = page["data"]["users"]
        assert conn["totalCount"] == 6
        seen += [e["node"]["email"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == sorted(seen) and len(seen) == 6
    bad = await gql(client, USERS, {"n": 2, "a": "garbage!!"}, token=admin)
    assert bad.json()["data"] is None and "cursor" in bad.json()["errors"][0]["message"]
    big = await gql(client, USERS, {"n": 1000}, token=admin)
    assert "between 1 and 100" in big.json()["errors"][0]["message"]


async def test_non_admin_roles_cannot_manage_users(client, admin):
    for role in ("recruiter", "interviewer", "compliance", "auditor"):
        await make_user("acme", f"{role}@acme.example", [role])
        token = await token_for(client, f"{role}@acme.example", "acme")
        inp = {"email": f"new-{role}@acme.example", "password": PASSWORD, "roles": ["recruiter"]}
        r = (await gql(client, CREATE, {"i": inp}, token=token)).json()
        assert r["data"] is None and "forbidden" in r["errors"][0]["message"]
    assert await _members() == 5


def test_cli_users_create(database_url):
    assert (
        turnout(
            "tenants",
            "create",
            "acme",
            "--name",
            "Acme",
            "--admin-email",
            "a@acme.example",
            "--admin-password",
            PASSWORD,
        ).returncode
        == 0
    )
    ok = turnout(
        "users",
        "create",
        "--tenant",
        "acme",
        "rita@acme.example",
        "--role",
        "recruiter",
        "--role",
        "interviewer",
        "--password",
        PASSWORD,
    )
    assert ok.returncode == 0, ok.stderr
    assert "rita@acme.example is interviewer, recruiter in acme" in ok.stdout
    bad_role = turnout(
        "users",
        "create",
        "--tenant",
        "acme",
        "x@acme.example",
        "--role",
        "wizard",
        "--password",
        PASSWORD,
    )
    assert bad_role.returncode == 1 and "unknown role 'wizard'" in bad_role.stderr
    bad_tenant = turnout(
        "users",
        "create",
        "--tenant",
        "nosuch",
        "x@acme.example",
        "--role",
        "recruiter",
        "--password",
        PASSWORD,
    )
    assert bad_tenant.returncode == 1 and "no tenant 'nosuch'" in bad_tenant.stderr
    dup = turnout(
        "users",
        "create",
        "--tenant",
        "acme",
        "rita@acme.example",
        "--role",
        "recruiter",
        "--password",
        PASSWORD,
    )
    assert dup.returncode == 1 and "already a member" in dup.stderr
