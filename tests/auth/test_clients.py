"""Integrators: client credentials at /oauth/token, scoped and bound to one tenant."""

from __future__ import annotations

import re

import httpx

from tests.cli import turnout
from tests.helpers import PASSWORD, gql, make_tenant
from turnout.auth import clients
from turnout.db.session import public_session
from turnout.tenancy import service as tenancy


async def _client(slug: str, scopes: list[str]) -> tuple[str, str]:
    async with public_session() as s:
        tenant = await tenancy.tenant_by_slug(s, slug)
        row, secret = await clients.create_client(s, tenant, "hr-system", scopes)
        await s.commit()
    return row.client_id, secret


async def test_client_credentials_with_basic_auth(client):
    await make_tenant("acme")
    cid, secret = await _client("acme", ["users:read", "settings:read"])
    r = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 15 * 60
    assert body["scope"] == "settings:read users:read"
    me = await gql(
        client, "{ me { kind clientId scopes tenant { slug } } }", token=body["access_token"]
    )
    assert me.json()["data"]["me"] == {
        "kind": "client",
        "clientId": cid,
        "scopes": ["settings:read", "users:read"],
        "tenant": {"slug": "acme"},
    }
    users = await gql(client, "{ users { totalCount } }", token=body["access_token"])
    assert users.json()["data"]["users"]["totalCount"] == 1


async def test_client_secret_post_and_scope_limits(client):
    await make_tenant("acme")
    cid, secret = await _client("acme", ["settings:read"])
    r = await client.post(
        "/oauth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": cid,
            "client_secret": secret,
            "scope": "settings:read",
        },
    )
    token = r.json()["access_token"]
    assert r.json()["scope"] == "settings:read"
    too_much = await client.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": "users:read"},
        auth=(cid, secret),
    )
    assert too_much.status_code == 400 and too_much.json()["error"] == "invalid_scope"
    denied = await gql(client, "{ users { totalCount } }", token=token)
    assert denied.json()["data"] is None
    assert "forbidden" in denied.json()["errors"][0]["message"]


async def test_token_endpoint_rejects_bad_requests(client):
    await make_tenant("acme")
    cid, secret = await _client("acme", ["users:read"])
    wrong = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret + "x")
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    unknown = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=("tc_nobody", secret)
    )
    assert unknown.status_code == 401
    grant = await client.post("/oauth/token", data={"grant_type": "password"}, auth=(cid, secret))
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    none = await client.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert none.status_code == 401


async def test_suspended_tenant_clients_get_no_token(client):
    await make_tenant("acme")
    cid, secret = await _client("acme", ["users:read"])
    async with public_session() as s:
        await tenancy.set_status(s, "acme", "suspended")
        await s.commit()
    r = await client.post(
        "/oauth/token", data={"grant_type": "client_credentials"}, auth=(cid, secret)
    )
    assert r.status_code == 401


async def test_token_endpoint_wants_https_off_loopback(app):
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://hr.example") as c:
        r = await c.post("/oauth/token", data={"grant_type": "client_credentials"})
    assert r.status_code == 400 and "https" in r.json()["error_description"]


async def test_create_client_bad_scopes():
    await make_tenant("acme")
    import pytest

    from turnout.kit.errors import InvalidInput

    for scopes in ([], ["root"], ["users:read", "everything"]):
        with pytest.raises(InvalidInput, match="scope"):
            await _client("acme", scopes)


def test_cli_clients_create(database_url):
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
    ok = turnout("clients", "create", "--tenant", "acme", "--scope", "users:read")
    assert ok.returncode == 0, ok.stderr
    assert re.search(r"client_id:\s+tc_\S+", ok.stdout)
    assert re.search(r"client_secret:\s+\S{40,}", ok.stdout)
    bad = turnout("clients", "create", "--tenant", "acme", "--scope", "root")
    assert bad.returncode == 1 and "unknown scope 'root'" in bad.stderr
