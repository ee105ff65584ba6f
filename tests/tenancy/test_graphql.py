"""The vendor console through GraphQL: createTenant, suspendTenant, setTenantPacks, tenants."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from tests.helpers import PASSWORD, gql, make_operator, make_tenant, token_for
from turnout.db.session import public_session
from turnout.tenancy.models import Tenant

CREATE = """mutation($i: CreateTenantInput!) { createTenant(input: $i) {
  __typename
  ... on TenantPayload { tenant { slug name status packs timeZone locale } }
  ... on InvalidInputError { errors { path code message } }
  ... on ConflictError { message path } } }"""
SUSPEND = """mutation($s: String!) { suspendTenant(slug: $s) { __typename
  ... on TenantPayload { tenant { slug status } } ... on NotFoundError { message path } } }"""
ACTIVATE = """mutation($s: String!) { activateTenant(slug: $s) { __typename
  ... on TenantPayload { tenant { slug status } } } }"""
PACKS = """mutation($s: String!, $p: [String!]!) { setTenantPacks(slug: $s, packs: $p) {
  __typename ... on TenantPayload { tenant { packs } }
  ... on InvalidInputError { errors { path message } } ... on NotFoundError { message } } }"""
TENANTS = """query($n: Int, $a: String) { tenants(first: $n, after: $a) { totalCount
  pageInfo { hasNextPage endCursor } edges { node { slug } } } }"""


def _input(**over) -> dict:
    base = {
        "slug": "stmarys",
        "name": "St Mary's",
        "adminEmail": "boss@stmarys.example",
        "adminPassword": PASSWORD,
        "packs": ["hospital"],
        "timeZone": "Asia/Shanghai",
        "locale": "zh-CN",
    }
    return {**base, **over}


async def _tenant_count() -> int:
    async with public_session() as s:
        return await s.scalar(select(func.count()).select_from(Tenant))


@pytest.fixture
async def operator(client):
    await make_operator()
    return await token_for(client, "op@vendor.example", None)


async def test_operator_creates_tenant_whose_admin_signs_in(client, operator):
    r = await gql(client, CREATE, {"i": _input()}, token=operator)
    assert r.json()["data"]["createTenant"] == {
        "__typename": "TenantPayload",
        "tenant": {
            "slug": "stmarys",
            "name": "St Mary's",
            "status": "active",
            "packs": ["hospital"],
            "timeZone": "Asia/Shanghai",
            "locale": "zh-CN",
        },
    }
    admin = await token_for(client, "boss@stmarys.example", "stmarys")
    me = await gql(client, "{ me { roles tenant { slug } } }", token=admin)
    assert me.json()["data"]["me"] == {"roles": ["tenant_admin"], "tenant": {"slug": "stmarys"}}


@pytest.mark.parametrize(
    ("over", "path"),
    [
        ({"slug": "St-Marys"}, ["slug"]),
        ({"slug": "s"}, ["slug"]),
        ({"packs": ["hospital", "casino"]}, ["packs", "1"]),
        ({"adminPassword": "password123"}, ["admin", "password"]),
        ({"adminEmail": "boss"}, ["admin", "email"]),
        ({"timeZone": "Nowhere/City"}, ["timeZone"]),
        ({"locale": "xx"}, ["locale"]),
        ({"name": ""}, ["name"]),
    ],
)
async def test_create_tenant_bad_input_creates_nothing(client, operator, over, path):
    r = await gql(client, CREATE, {"i": _input(**over)}, token=operator)
    res = r.json()["data"]["createTenant"]
    assert res["__typename"] == "InvalidInputError"
    assert path in [e["path"] for e in res["errors"]]
    assert await _tenant_count() == 0


async def test_create_tenant_duplicate_slug(client, operator):
    await make_tenant("stmarys")
    r = await gql(client, CREATE, {"i": _input()}, token=operator)
    assert r.json()["data"]["createTenant"] == {
        "__typename": "ConflictError",
        "path": ["slug"],
        "message": "a tenant with slug 'stmarys' already exists",
    }
    assert await _tenant_count() == 1


async def test_suspend_activate_and_set_packs(client, operator):
    await make_tenant("acme", ["retail"])
    admin = await token_for(client, "admin@acme.example", "acme")
    r = await gql(client, SUSPEND, {"s": "acme"}, token=operator)
    assert r.json()["data"]["suspendTenant"]["tenant"] == {"slug": "acme", "status": "suspended"}
    assert (await gql(client, "{ me { email } }", token=admin)).status_code == 403
    r = await gql(client, ACTIVATE, {"s": "acme"}, token=operator)
    assert r.json()["data"]["activateTenant"]["tenant"]["status"] == "active"
    assert (await gql(client, "{ me { email } }", token=admin)).status_code == 200

    r = await gql(
        client, PACKS, {"s": "acme", "p": ["retail", "hospital", "retail"]}, token=operator
    )
    assert r.json()["data"]["setTenantPacks"]["tenant"]["packs"] == ["hospital", "retail"]
    bad = await gql(client, PACKS, {"s": "acme", "p": ["casino"]}, token=operator)
    assert bad.json()["data"]["setTenantPacks"]["__typename"] == "InvalidInputError"
    missing = await gql(client, PACKS, {"s": "nosuch", "p": []}, token=operator)
    assert missing.json()["data"]["setTenantPacks"]["__typename"] == "NotFoundError"
    missing = await gql(client, SUSPEND, {"s": "nosuch"}, token=operator)
    assert missing.json()["data"]["suspendTenant"] == {
        "__typename": "NotFoundError",
        "message": "no tenant 'nosuch'",
        "path": ["slug"],
    }
    async with public_session() as s:
        assert (await s.execute(select(Tenant.packs))).scalar_one() == ["hospital", "retail"]


async def test_tenants_connection_pages_through_the_directory(client, operator):
    for slug in ("delta", "alpha", "charlie", "bravo", "echo"):
        await make_tenant(slug)
    seen, after = [], None
    while True:
        conn = (await gql(client, TENANTS, {"n": 2, "a": after}, token=operator)).json()["data"][
            "tenants"
        ]
        assert conn["totalCount"] == 5
        seen += [e["node"]["slug"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == ["alpha", "bravo", "charlie", "delta", "echo"]


async def test_only_vendor_operators_manage_tenants(client):
    await make_tenant("acme")
    admin = await token_for(client, "admin@acme.example", "acme")
    for query, variables in [
        (CREATE, {"i": _input()}),
        (SUSPEND, {"s": "acme"}),
        (PACKS, {"s": "acme", "p": ["hospital"]}),
        (TENANTS, {}),
    ]:
        for token in (admin, None):
            r = (await gql(client, query, variables, token=token)).json()
            assert r["data"] is None and "forbidden" in r["errors"][0]["message"]
    async with public_session() as s:
        assert (await s.execute(select(Tenant.status, Tenant.packs))).one() == ("active", [])
    assert await _tenant_count() == 1


async def test_operator_sees_no_tenant_data(client, operator):
    await make_tenant("acme")
    for query in ("{ users { totalCount } }", '{ packSettings(pack: "hospital") { key } }'):
        r = (await gql(client, query, token=operator)).json()
        assert r["data"] is None and "forbidden" in r["errors"][0]["message"]
