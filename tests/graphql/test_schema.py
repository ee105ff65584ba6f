"""Schema composition per pack set, the committed SDL, limits, GraphiQL, masking."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers import gql, make_tenant, token_for
from turnout.graphql.schema import schema_for, sdl

ROOT = Path(__file__).resolve().parents[2]
TYPE_FIELDS = '{ __type(name: "Query") { fields { name } } }'


def test_committed_sdl_matches_the_code():
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == sdl(), "schema.graphql drifted: run `turnout schema print > schema.graphql`"


def test_schema_built_once_per_pack_set():
    a = schema_for(frozenset({"hospital"}), True)
    assert schema_for(frozenset({"hospital"}), True) is a
    assert schema_for(frozenset(), True) is not a


async def _query_fields(client, token) -> set[str]:
    r = await gql(client, TYPE_FIELDS, token=token)
    return {f["name"] for f in r.json()["data"]["__type"]["fields"]}


async def test_hospital_tenant_sees_pack_fields_retail_does_not(client):
    await make_tenant("stmarys", ["hospital"])
    await make_tenant("shop", ["retail"])
    hospital = await token_for(client, "admin@stmarys.example", "stmarys")
    retail = await token_for(client, "admin@shop.example", "shop")
    assert "hospitalSettings" in await _query_fields(client, hospital)
    assert "hospitalSettings" not in await _query_fields(client, retail)
    r = await gql(client, "{ hospitalSettings { key value } }", token=retail)
    assert "Cannot query field 'hospitalSettings'" in r.json()["errors"][0]["message"]

    r = await gql(client, "{ hospitalSettings { key value default overridden } }", token=hospital)
    settings = {s["key"]: s for s in r.json()["data"]["hospitalSettings"]}
    assert settings["flexible_window_days"] == {
        "key": "flexible_window_days",
        "value": 3,
        "default": 3,
        "overridden": False,
    }


async def test_setting_packs_changes_the_schema_a_tenant_sees(client):
    await make_tenant("acme", ["retail"])
    token = await token_for(client, "admin@acme.example", "acme")
    assert "hospitalSettings" not in await _query_fields(client, token)
    from turnout.db.session import public_session
    from turnout.tenancy import service

    async with public_session() as s:
        await service.set_packs(s, "acme", ["hospital", "retail"])
        await s.commit()
    assert "hospitalSettings" in await _query_fields(client, token)


SET = """mutation($p: String!, $k: String!, $v: JSON!) { setPackSetting(pack: $p, key: $k,
  value: $v) { __typename ... on PackSettingPayload { setting { key value overridden } }
  ... on InvalidInputError { errors { path code message } } } }"""


async def test_pack_settings_are_tuned_within_their_ranges(client):
    await make_tenant("stmarys", ["hospital"])
    admin = await token_for(client, "admin@stmarys.example", "stmarys")
    ok = await gql(client, SET, {"p": "hospital", "k": "flexible_window_days", "v": 5}, token=admin)
    assert ok.json()["data"]["setPackSetting"]["setting"] == {
        "key": "flexible_window_days",
        "value": 5,
        "overridden": True,
    }
    for key, value, code in [
        ("flexible_window_days", 99, "out_of_range"),
        ("flexible_window_days", "5", "invalid"),
        ("flexible_window_days", True, "invalid"),
        ("page_channel", "pigeon", "invalid"),
        ("no_such_setting", 1, "unknown"),
    ]:
        r = await gql(client, SET, {"p": "hospital", "k": key, "v": value}, token=admin)
        res = r.json()["data"]["setPackSetting"]
        assert res["__typename"] == "InvalidInputError", (key, value)
        assert res["errors"][0]["code"] == code
    other = await gql(
        client, SET, {"p": "retail", "k": "refill_from_pool", "v": False}, token=admin
    )
    assert "not enabled" in other.json()["data"]["setPackSetting"]["errors"][0]["message"]
    r = await gql(client, "{ hospitalSettings { key value } }", token=admin)
    values = {s["key"]: s["value"] for s in r.json()["data"]["hospitalSettings"]}
    assert values["flexible_window_days"] == 5 and values["page_channel"] == "voice"


@pytest.fixture
def limits(monkeypatch, app):
    """Rebuild the schemas with other settings for one test."""
    from turnout.config import get_settings
    from turnout.graphql import schema as schema_mod

    def apply(**overrides):
        changed = get_settings().model_copy(update=overrides)
        monkeypatch.setattr(schema_mod, "get_settings", lambda: changed)
        app.state.settings = changed
        schema_for.cache_clear()
        return changed

    yield apply
    schema_for.cache_clear()


async def test_depth_limit(client, limits):
    await make_tenant("acme")
    token = await token_for(client, "admin@acme.example", "acme")
    limits(max_query_depth=1)
    assert (await gql(client, "{ me { email } }", token=token)).json()["data"]["me"]
    r = await gql(client, "{ me { tenant { slug } } }", token=token)
    assert r.json()["data"] is None
    assert "exceeds maximum operation depth of 1" in r.json()["errors"][0]["message"]


async def test_alias_limit(client, settings):
    aliases = " ".join(f"a{i}: me {{ email }}" for i in range(settings.max_query_aliases + 1))
    r = await gql(client, "{ " + aliases + " }")
    assert r.json()["data"] is None
    assert "aliases found" in r.json()["errors"][0]["message"]


async def test_token_limit(client, settings):
    fields = " ".join(["email"] * settings.max_query_tokens)
    r = await gql(client, "{ me { " + fields + " } }")
    assert r.json()["data"] is None
    assert "more than 3000 tokens" in r.json()["errors"][0]["message"]


async def test_cost_limit(client, limits):
    await make_tenant("acme")
    token = await token_for(client, "admin@acme.example", "acme")
    limits(max_query_cost=500)
    page = "users(first: 100) { edges { node { email } } }"  # 1 + 100 x 3 = 301
    ok = await gql(client, "{ " + page + " }", token=token)
    assert ok.json()["data"]["users"]["edges"]
    r = await gql(client, "{ a: " + page + " b: " + page + " }", token=token)
    assert r.json()["data"] is None
    assert r.json()["errors"][0]["message"].startswith("query cost 602 exceeds the limit of 500")


async def test_graphiql_only_in_development(client, app):
    r = await client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 200 and "graphiql" in r.text.lower()
    app.state.settings = app.state.settings.model_copy(update={"env": "production"})
    r = await client.get("/graphql", headers={"Accept": "text/html"})
    assert r.status_code == 405


async def test_production_masks_unexpected_errors_and_anonymous_introspection(
    client, limits, monkeypatch
):
    limits(env="production")
    r = await gql(client, "{ __schema { queryType { name } } }")
    assert "introspection" in r.json()["errors"][0]["message"].lower()

    await make_tenant("acme")
    from turnout.tenancy import graphql as tg

    def boom():
        raise RuntimeError("secret internals: password=hunter2")

    monkeypatch.setattr(tg, "pack_types", boom)
    token = await token_for(client, "admin@acme.example", "acme")
    intro = await gql(client, "{ __schema { queryType { name } } }", token=token)
    assert intro.json()["data"]["__schema"]["queryType"]["name"] == "Query"
    r = await gql(client, "{ packs { name } }", token=token)
    assert r.json()["errors"][0]["message"] == "Unexpected error."
    assert "hunter2" not in r.text
    # Our own, intended messages still get through.
    r = await gql(client, "{ tenants { totalCount } }", token=token)
    assert "forbidden" in r.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "query",
    [
        "{ users { totalCount } }",
        "{ tenants { totalCount } }",
        "{ packs { name } }",
        '{ packSettings(pack: "hospital") { key } }',
    ],
)
async def test_anonymous_gets_nothing(client, query):
    await make_tenant("acme", ["hospital"])
    r = await gql(client, query, tenant="acme")
    assert r.json()["data"] is None
