"""The recruiters' follow-up queue through GraphQL: paging, filtering, resolving, who may, and
tenant A never seeing or resolving tenant B's."""

from __future__ import annotations

from tests.helpers import gql, make_user, token_for
from tests.portal.conftest import FOLLOW_UPS, RESOLVE, make_world, set_vendor

VENDOR_Q = "{ interviewVendor { startUrlTemplate } }"


async def _ask(client, world, kind: str = "problem", text: str = "help") -> None:
    field = "description" if kind == "problem" else "note"
    r = await client.post(f"{world['link']}/{kind}", data={field: text})
    assert r.status_code == 303, r.text


async def _queue(client, token: str, **variables) -> dict:
    r = await gql(client, FOLLOW_UPS, variables, token=token)
    body = r.json()
    assert not body.get("errors"), body
    return body["data"]["followUps"]


async def test_pages_filters_and_resolves(client, world):
    await _ask(client, world, "reschedule", "later")
    await _ask(client, world, "problem", "no sound")
    first = await _queue(client, world["admin"], first=1)
    assert first["totalCount"] == 2 and first["pageInfo"]["hasNextPage"] is True
    assert first["edges"][0]["node"]["kind"] == "technical_problem"
    rest = await _queue(client, world["admin"], first=1, after=first["pageInfo"]["endCursor"])
    assert [e["node"]["kind"] for e in rest["edges"]] == ["reschedule_request"]
    assert rest["pageInfo"]["hasNextPage"] is False
    fid = first["edges"][0]["node"]["id"]
    done = (await gql(client, RESOLVE, {"id": fid}, token=world["admin"])).json()
    res = done["data"]["resolveFollowUp"]
    assert res["followUp"]["status"] == "resolved"
    assert (
        res["followUp"]["resolvedBy"] == "user:admin@acme.example" and res["followUp"]["resolvedAt"]
    )
    twice = (await gql(client, RESOLVE, {"id": fid}, token=world["admin"])).json()
    assert twice["data"]["resolveFollowUp"]["__typename"] == "ConflictError"
    assert (await _queue(client, world["admin"], s="open"))["totalCount"] == 1
    assert (await _queue(client, world["admin"], s="resolved"))["totalCount"] == 1
    bad = await gql(client, FOLLOW_UPS, {"s": "later"}, token=world["admin"])
    assert "status: must be one of open, resolved" in bad.text
    cursor = await gql(client, FOLLOW_UPS, {"after": "nonsense"}, token=world["admin"])
    assert "not a cursor this API issued" in cursor.text
    wrong = await gql(client, RESOLVE, {"id": world["interview"]}, token=world["admin"])
    assert wrong.json()["data"]["resolveFollowUp"]["__typename"] == "InvalidInputError"
    # A problem reported again after resolving opens a new follow-up.
    await _ask(client, world, "problem", "no sound again")
    assert (await _queue(client, world["admin"], s="open"))["totalCount"] == 2


async def test_who_may_read_and_resolve(client, world):
    await _ask(client, world)
    await make_user("acme", "audit@acme.example", ["auditor"])
    await make_user("acme", "iv@acme.example", ["interviewer"])
    auditor = await token_for(client, "audit@acme.example", "acme")
    seen = await _queue(client, auditor)
    assert seen["totalCount"] == 1  # read-only roles see the queue...
    fid = seen["edges"][0]["node"]["id"]
    r = await gql(client, RESOLVE, {"id": fid}, token=auditor)
    assert r.json()["data"] is None and "interviews.write" in r.text  # ...and cannot resolve it
    iv = await token_for(client, "iv@acme.example", "acme")
    r = await gql(client, FOLLOW_UPS, {}, token=iv)
    assert r.json()["data"] is None and "interviews.read" in r.text


async def test_tenants_never_see_each_others_queue_or_vendor(client, world):
    await _ask(client, world, "problem", "acme's secret trouble")
    await set_vendor(client, world["admin"])
    beta = await make_world(client, "beta")
    acme_queue = await _queue(client, world["admin"])
    fid = acme_queue["edges"][0]["node"]["id"]
    theirs = await _queue(client, beta["admin"])
    assert theirs["totalCount"] == 0 and theirs["edges"] == []
    r = await gql(client, RESOLVE, {"id": fid}, token=beta["admin"])
    assert r.json()["data"]["resolveFollowUp"]["__typename"] == "NotFoundError"
    assert (await _queue(client, world["admin"], s="open"))["totalCount"] == 1
    vendor = await gql(client, VENDOR_Q, token=beta["admin"])
    assert vendor.json()["data"]["interviewVendor"] is None
    # Naming acme in the request changes nothing: the principal decides the tenant.
    forced = await gql(client, FOLLOW_UPS, {}, token=beta["admin"], tenant="acme")
    assert forced.status_code == 403 and "acme's secret trouble" not in forced.text
