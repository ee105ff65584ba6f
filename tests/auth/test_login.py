"""Sign-in: cookie + CSRF, bearer tokens, throttling, rehash, logout."""

from __future__ import annotations

from argon2 import PasswordHasher
from sqlalchemy import select, update

from tests.helpers import LOGIN, PASSWORD, gql, login, make_operator, make_tenant, make_user
from turnout.auth import passwords
from turnout.auth.models import User, WebSession
from turnout.db.session import public_session

CREATE_USER = """mutation($i: CreateUserInput!) { createUser(input: $i) {
  __typename ... on UserPayload { user { email roles } }
  ... on InvalidInputError { errors { path code message } } } }"""


async def test_login_sets_secure_session_cookie_and_returns_token(client):
    await make_tenant("acme")
    r = await gql(client, LOGIN, {"e": "ADMIN@acme.example", "p": PASSWORD, "t": "acme"})
    res = r.json()["data"]["login"]
    assert res["__typename"] == "LoginPayload"
    assert res["me"] == {
        "email": "admin@acme.example",
        "roles": ["tenant_admin"],
        "tenant": {"slug": "acme"},
    }
    cookie = r.headers["set-cookie"]
    assert cookie.startswith("turnout_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # development; production is tested below
    async with public_session() as s:
        row = (await s.execute(select(WebSession))).scalar_one()
    assert row.id != client.cookies["turnout_session"]  # only the hash is stored


async def test_cookie_is_secure_outside_development(client, app):
    await make_tenant("acme")
    app.state.settings = app.state.settings.model_copy(update={"env": "production"})
    r = await gql(client, LOGIN, {"e": "admin@acme.example", "p": PASSWORD, "t": "acme"})
    assert "Secure" in r.headers["set-cookie"]


async def test_cookie_mutation_needs_csrf_header_but_query_does_not(client):
    await make_tenant("acme")
    res = await login(client, "admin@acme.example", "acme")
    me = await gql(client, "{ me { email } }")
    assert me.json()["data"]["me"]["email"] == "admin@acme.example"

    variables = {"i": {"email": "rita@acme.example", "password": PASSWORD, "roles": ["recruiter"]}}
    refused = await gql(client, CREATE_USER, variables)
    assert refused.json()["data"] is None
    assert "X-CSRF-Token" in refused.json()["errors"][0]["message"]
    wrong = await gql(client, CREATE_USER, variables, headers={"X-CSRF-Token": "nope"})
    assert wrong.json()["data"] is None

    ok = await gql(client, CREATE_USER, variables, headers={"X-CSRF-Token": res["csrfToken"]})
    assert ok.json()["data"]["createUser"]["user"] == {
        "email": "rita@acme.example",
        "roles": ["recruiter"],
    }


async def test_bearer_token_needs_no_csrf(client):
    await make_tenant("acme")
    token = (await login(client, "admin@acme.example", "acme"))["bearerToken"]
    client.cookies.clear()
    r = await gql(
        client,
        CREATE_USER,
        {"i": {"email": "rita@acme.example", "password": PASSWORD, "roles": ["recruiter"]}},
        token=token,
    )
    assert r.json()["data"]["createUser"]["__typename"] == "UserPayload"


async def test_wrong_password_unknown_user_wrong_tenant_all_look_the_same(client):
    await make_tenant("acme")
    await make_tenant("beta")
    for email, password, tenant in [
        ("admin@acme.example", "wrong password!!", "acme"),
        ("ghost@acme.example", PASSWORD, "acme"),
        ("admin@acme.example", PASSWORD, "beta"),
        ("admin@acme.example", PASSWORD, "nosuch"),
        ("admin@acme.example", PASSWORD, None),
    ]:
        res = await login(client, email, tenant, password)
        assert res == {
            "__typename": "ForbiddenError",
            "code": "forbidden",
            "message": "wrong email, password or tenant",
            "retryAfterSeconds": None,
        }
    assert "turnout_session" not in client.cookies


async def test_operator_signs_in_to_vendor_console_only(client):
    await make_operator()
    await make_tenant("acme")
    res = await login(client, "op@vendor.example", None)
    assert res["me"] == {"email": "op@vendor.example", "roles": ["vendor_operator"], "tenant": None}
    assert (await login(client, "op@vendor.example", "acme"))["__typename"] == "ForbiddenError"


async def test_account_throttled_after_five_failures_even_with_right_password(client):
    await make_tenant("acme")
    for _ in range(5):
        assert (await login(client, "admin@acme.example", "acme", "bad password 123"))[
            "code"
        ] == "forbidden"
    res = await login(client, "admin@acme.example", "acme")
    assert res["code"] == "too_many_attempts"
    assert 0 < res["retryAfterSeconds"] <= 15 * 60 + 1


async def test_address_throttled_across_accounts(client):
    await make_tenant("acme")
    for i in range(20):
        await login(client, f"guess{i}@acme.example", "acme", "bad password 123")
    # Another account, right password, same address: refused.
    res = await login(client, "admin@acme.example", "acme")
    assert res["code"] == "too_many_attempts"


async def test_success_clears_account_failures(client):
    await make_tenant("acme")
    for _ in range(4):
        await login(client, "admin@acme.example", "acme", "bad password 123")
    assert (await login(client, "admin@acme.example", "acme"))["__typename"] == "LoginPayload"
    for _ in range(4):
        await login(client, "admin@acme.example", "acme", "bad password 123")
    assert (await login(client, "admin@acme.example", "acme"))["__typename"] == "LoginPayload"


async def test_password_rehashed_on_login_when_parameters_change(client):
    await make_tenant("acme")
    weak = PasswordHasher(time_cost=1, memory_cost=8 * 1024, parallelism=1).hash(PASSWORD)
    async with public_session() as s:
        await s.execute(update(User).values(password_hash=weak))
        await s.commit()
    assert passwords.needs_rehash(weak)
    assert (await login(client, "admin@acme.example", "acme"))["__typename"] == "LoginPayload"
    async with public_session() as s:
        stored = (await s.execute(select(User.password_hash))).scalar_one()
    assert stored != weak and stored.startswith("$argon2id$")
    assert "m=19456,t=2,p=1" in stored and not passwords.needs_rehash(stored)


async def test_logout_ends_the_session(client):
    await make_tenant("acme")
    res = await login(client, "admin@acme.example", "acme")
    r = await gql(
        client, "mutation { logout { signedOut } }", headers={"X-CSRF-Token": res["csrfToken"]}
    )
    assert r.json()["data"]["logout"]["signedOut"] is True
    async with public_session() as s:
        assert (await s.execute(select(WebSession))).first() is None
    me = await gql(client, "{ me { email } }")
    assert me.json()["data"]["me"] is None


async def test_expired_or_forged_bearer_token_is_401(client):
    await make_tenant("acme")
    await make_user("acme", "rita@acme.example", ["recruiter"])
    token = (await login(client, "rita@acme.example", "acme"))["bearerToken"]
    client.cookies.clear()
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    r = await gql(client, "{ me { email } }", token=forged)
    assert r.status_code == 401
    from datetime import timedelta

    from turnout.kit.clock import clock

    clock.freeze(clock.now() + timedelta(minutes=16))
    r = await gql(client, "{ me { email } }", token=token)
    assert r.status_code == 401 and "expired" in r.json()["errors"][0]["message"]
