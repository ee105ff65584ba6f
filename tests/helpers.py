"""Helpers shared by tests: make tenants and users, sign in, run GraphQL."""

from __future__ import annotations

import httpx

from turnout.auth import service as auth
from turnout.db.session import public_session
from turnout.tenancy import service as tenancy

PASSWORD = "correct horse battery staple"


async def make_tenant(slug: str, packs: list[str] | None = None, admin: str | None = None):
    return await tenancy.create_tenant(
        tenancy.NewTenant(
            slug=slug,
            name=slug.title(),
            admin_email=admin or f"admin@{slug}.example",
            admin_password=PASSWORD,
            packs=packs or [],
        )
    )


async def make_user(slug: str, email: str, roles: list[str]):
    async with public_session() as session:
        tenant = await tenancy.tenant_by_slug(session, slug)
        user, _ = await auth.add_member(session, tenant, email, roles, PASSWORD)
        await session.commit()
    return user


async def make_operator(email: str = "op@vendor.example"):
    async with public_session() as session:
        user = await auth.create_operator(session, email, PASSWORD)
        await session.commit()
    return user


LOGIN = """mutation($e: String!, $p: String!, $t: String) {
  login(email: $e, password: $p, tenant: $t) {
    __typename
    ... on LoginPayload { bearerToken csrfToken me { email roles tenant { slug } } }
    ... on ForbiddenError { code message retryAfterSeconds }
    ... on InvalidInputError { code message }
  }
}"""


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict | None = None,
    token: str | None = None,
    tenant: str | None = None,
    headers: dict | None = None,
) -> httpx.Response:
    h = dict(headers or {})
    if token:
        h["Authorization"] = f"Bearer {token}"
    if tenant:
        h["X-Tenant"] = tenant
    return await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=h
    )


async def login(
    client: httpx.AsyncClient, email: str, tenant: str | None, password: str = PASSWORD
) -> dict:
    r = await gql(client, LOGIN, {"e": email, "p": password, "t": tenant})
    assert r.status_code == 200, r.text
    return r.json()["data"]["login"]


async def token_for(client: httpx.AsyncClient, email: str, tenant: str | None) -> str:
    res = await login(client, email, tenant)
    assert res["__typename"] == "LoginPayload", res
    client.cookies.clear()  # scripts use the bearer token, not the cookie
    return res["bearerToken"]
