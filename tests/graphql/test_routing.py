"""The tenant of a request: X-Tenant or subdomain, and it must be the principal's."""

from __future__ import annotations

from tests.helpers import PASSWORD, gql, login, make_operator, make_tenant, token_for
from turnout.db.session import public_session
from turnout.tenancy import service as tenancy

ME = "{ me { email tenant { slug } } }"


async def test_header_and_subdomain_select_tenant_for_login(client):
    await make_tenant("acme")
    await make_tenant("beta", admin="admin@acme.example")  # same person, two tenants
    by_header = await gql(
        client,
        'mutation { login(email: "admin@acme.example", password: "'
        + PASSWORD
        + '") { ... on LoginPayload { me { tenant { slug } } } } }',
        tenant="beta",
    )
    assert by_header.json()["data"]["login"]["me"]["tenant"]["slug"] == "beta"
    client.cookies.clear()
    r = await client.post(
        "/graphql",
        headers={"Host": "acme.localhost:8000"},
        json={
            "query": 'mutation { login(email: "admin@acme.example", password: "'
            + PASSWORD
            + '") { ... on LoginPayload { me { tenant { slug } } } } }'
        },
    )
    assert r.json()["data"]["login"]["me"]["tenant"]["slug"] == "acme"


async def test_token_of_one_tenant_with_another_tenant_named_is_403(client):
    await make_tenant("acme")
    await make_tenant("beta")
    token = await token_for(client, "admin@acme.example", "acme")
    assert (await gql(client, ME, token=token, tenant="acme")).status_code == 200
    r = await gql(client, ME, token=token, tenant="beta")
    assert r.status_code == 403 and "another tenant" in r.json()["errors"][0]["message"]
    r = await client.post(
        "/graphql",
        json={"query": ME},
        headers={"Authorization": f"Bearer {token}", "Host": "beta.localhost"},
    )
    assert r.status_code == 403


async def test_cookie_of_one_tenant_on_another_subdomain_is_403(client):
    await make_tenant("acme")
    await make_tenant("beta")
    await login(client, "admin@acme.example", "acme")
    r = await client.post("/graphql", json={"query": ME}, headers={"Host": "beta.localhost"})
    assert r.status_code == 403


async def test_suspended_tenant_gets_403_and_reactivation_restores(client):
    await make_tenant("acme")
    token = await token_for(client, "admin@acme.example", "acme")
    async with public_session() as s:
        await tenancy.set_status(s, "acme", "suspended")
        await s.commit()
    r = await gql(client, ME, token=token)
    assert r.status_code == 403 and "suspended" in r.json()["errors"][0]["message"]
    anon = await gql(client, "{ me { email } }", tenant="acme")
    assert anon.status_code == 403
    assert (await login(client, "admin@acme.example", "acme"))["__typename"] == "ForbiddenError"
    async with public_session() as s:
        await tenancy.set_status(s, "acme", "active")
        await s.commit()
    assert (await gql(client, ME, token=token)).status_code == 200


async def test_unknown_tenant_is_404_and_operator_cannot_enter_tenant(client):
    r = await gql(client, "{ me { email } }", tenant="nosuch")
    assert r.status_code == 404
    await make_operator()
    await make_tenant("acme")
    token = await token_for(client, "op@vendor.example", None)
    r = await gql(client, ME, token=token, tenant="acme")
    assert r.status_code == 403 and "vendor operators" in r.json()["errors"][0]["message"]


async def test_malformed_requests_get_400(client):
    assert (await client.post("/graphql", content=b"{not json")).status_code == 400
    assert (await client.post("/graphql", json={"variables": {}})).status_code == 400
    assert (
        await client.post("/graphql", json={"query": "{ me { email } }", "variables": [1]})
    ).status_code == 400
    assert (await client.get("/graphql")).status_code == 405
