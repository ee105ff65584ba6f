"""Jobs and candidates through GraphQL: validation, duplicates by keyed hash, search, filters,
pagination."""

from __future__ import annotations

import pytest

from tests.helpers import gql, make_tenant, token_for
from tests.recruiting import api

UPDATE_JOB = """mutation($id: ID!, $i: JobInput!) { updateJob(id: $id, input: $i) { __typename
  ... on JobPayload { job { title status priority } }
  ... on InvalidInputError { errors { path message } } ... on NotFoundError { message } } }"""
UPDATE_CANDIDATE = """mutation($id: ID!, $i: CandidateInput!, $d: Boolean! = false) {
  updateCandidate(id: $id, input: $i, allowDuplicate: $d) { __typename
  ... on CandidatePayload { candidate { name phone email tags consent { channel granted } } }
  ... on InvalidInputError { errors { path message } }
  ... on ConflictError { code conflictingIds } ... on NotFoundError { message } } }"""
SEARCH = """query($f: CandidateFilter, $n: Int, $a: String) { candidates(first: $n, after: $a,
  filter: $f) { totalCount pageInfo { hasNextPage endCursor } edges { node { name } } } }"""


@pytest.fixture
async def admin(client):
    await make_tenant("acme")
    return await token_for(client, "admin@acme.example", "acme")


async def test_job_create_update_and_bad_input(client, admin):
    jid = await api.job(client, admin, "ER Nurse", priority="high", family="er")
    r = await gql(
        client,
        UPDATE_JOB,
        {"id": jid, "i": {"status": "closed", "title": " ER Nurse II "}},
        token=admin,
    )
    assert r.json()["data"]["updateJob"]["job"] == {
        "title": "ER Nurse II",
        "status": "closed",
        "priority": "high",
    }
    for inp, path in [
        ({}, ["title"]),
        ({"title": ""}, ["title"]),
        ({"title": "x", "priority": "urgent"}, ["priority"]),
        ({"title": "x", "status": "archived"}, ["status"]),
    ]:
        r = await gql(client, api.CREATE_JOB, {"i": inp}, token=admin)
        res = r.json()["data"]["createJob"]
        assert res["__typename"] == "InvalidInputError" and res["errors"][0]["path"] == path
    r = await gql(client, UPDATE_JOB, {"id": jid, "i": {"priority": "meh"}}, token=admin)
    assert r.json()["data"]["updateJob"]["__typename"] == "InvalidInputError"
    missing = "Sm9iOjAwMDAwMDAwLTAwMDAtMDAwMC0wMDAwLTAwMDAwMDAwMDAwMA=="  # Job:0000...
    r = await gql(client, UPDATE_JOB, {"id": missing, "i": {"title": "x"}}, token=admin)
    assert r.json()["data"]["updateJob"]["__typename"] == "NotFoundError"
    jobs = await gql(
        client,
        '{ jobs(first: 10, filter: {family: "er"}) { totalCount edges { node { title } } } }',
        token=admin,
    )
    assert jobs.json()["data"]["jobs"]["totalCount"] == 1


@pytest.mark.parametrize(
    ("inp", "path"),
    [
        ({"phone": "13812345678"}, ["name"]),
        ({"name": "A", "phone": "12"}, ["phone"]),
        ({"name": "A", "email": "not-mail"}, ["email"]),
        ({"name": "A"}, ["phone"]),  # no way to reach them
        ({"name": "A", "phone": "13812345678", "timeZone": "Moon/Base"}, ["timeZone"]),
        ({"name": "A", "phone": "13812345678", "locale": "de"}, ["locale"]),
        (
            {
                "name": "A",
                "phone": "13812345678",
                "consent": [{"channel": "pigeon", "granted": True}],
            },
            ["consent"],
        ),
        ({"name": "A", "phone": "13812345678", "source": "x" * 81}, ["source"]),
        ({"name": "A\u0000B", "phone": "13812345678"}, ["name"]),
    ],
)
async def test_create_candidate_bad_input(client, admin, inp, path):
    r = await gql(client, api.CREATE_CANDIDATE, {"i": inp}, token=admin)
    res = r.json()["data"]["createCandidate"]
    assert res["__typename"] == "InvalidInputError" and res["errors"][0]["path"] == path
    count = await gql(client, "{ candidates { totalCount } }", token=admin)
    assert count.json()["data"]["candidates"]["totalCount"] == 0


async def test_duplicates_by_phone_or_email_are_reported_not_merged(client, admin):
    first = await api.candidate(client, admin, "Li Wei", "138 1234-5678", "LiWei@Example.com")
    for phone, email in [("13812345678", None), ("13900000000", "liwei@example.com")]:
        inp = {"name": "Li Wei", "phone": phone, **({"email": email} if email else {})}
        r = await gql(client, api.CREATE_CANDIDATE, {"i": inp}, token=admin)
        res = r.json()["data"]["createCandidate"]
        assert res["__typename"] == "ConflictError" and res["code"] == "duplicate"
        assert res["conflictingIds"] == [first]
    forced = await gql(
        client,
        api.CREATE_CANDIDATE,
        {"i": {"name": "Li Wei (2)", "phone": "13812345678"}, "d": True},
        token=admin,
    )
    second = forced.json()["data"]["createCandidate"]["candidate"]["id"]
    count = await gql(client, "{ candidates { totalCount } }", token=admin)
    assert count.json()["data"]["candidates"]["totalCount"] == 2
    other = await api.candidate(client, admin, "Wang", "13700000000", "wang@example.com")
    r = await gql(
        client, UPDATE_CANDIDATE, {"id": other, "i": {"email": "liwei@example.com"}}, token=admin
    )
    res = r.json()["data"]["updateCandidate"]
    assert res["__typename"] == "ConflictError"
    assert sorted(res["conflictingIds"]) == sorted([first])
    del second


async def test_update_candidate(client, admin):
    cid = await api.candidate(client, admin)
    r = await gql(
        client,
        UPDATE_CANDIDATE,
        {
            "id": cid,
            "i": {
                "phone": "+86 139-0000-1111",
                "tags": ["night shift", "ICU", "ICU"],
                "consent": [
                    {"channel": "sms", "granted": True},
                    {"channel": "email", "granted": False},
                ],
            },
        },
        token=admin,
    )
    assert r.json()["data"]["updateCandidate"]["candidate"] == {
        "name": "Li Wei",
        "phone": "+8613900001111",
        "email": "liwei@example.com",
        "tags": ["ICU", "night shift"],
        "consent": [{"channel": "email", "granted": False}, {"channel": "sms", "granted": True}],
    }
    r = await gql(client, UPDATE_CANDIDATE, {"id": cid, "i": {"phone": "x"}}, token=admin)
    assert r.json()["data"]["updateCandidate"]["__typename"] == "InvalidInputError"


async def test_search_filters_and_pagination(client, admin):
    job = await api.job(client, admin)
    ids = []
    for i in range(7):
        ids.append(
            await api.candidate(
                client,
                admin,
                f"Person {i}",
                f"1390000000{i}",
                f"p{i}@example.com",
                tags=["nurse"] if i % 2 else [],
            )
        )
    await api.application(client, admin, ids[3], job)

    async def names(f: dict, n: int = 20) -> list[str]:
        r = await gql(client, SEARCH, {"f": f, "n": n}, token=admin)
        body = r.json()
        assert not body.get("errors"), body
        return [e["node"]["name"] for e in body["data"]["candidates"]["edges"]]

    assert await names({"search": "person 4"}) == ["Person 4"]
    assert await names({"search": "139-0000-0005"}) == ["Person 5"]
    assert await names({"search": "P6@Example.com"}) == ["Person 6"]
    assert await names({"tag": "nurse"}) == ["Person 1", "Person 3", "Person 5"]
    assert await names({"jobId": job}) == ["Person 3"]
    assert await names({"stage": "applied"}) == ["Person 3"]
    assert await names({"stage": "interviewed"}) == []
    r = await gql(client, SEARCH, {"f": {"stage": "bogus"}}, token=admin)
    assert "must be one of" in r.json()["errors"][0]["message"]
    seen, after = [], None
    while True:
        r = await gql(client, SEARCH, {"n": 3, "a": after}, token=admin)
        conn = r.json()["data"]["candidates"]
        seen += [e["node"]["name"] for e in conn["edges"]]
        if not conn["pageInfo"]["hasNextPage"]:
            break
        after = conn["pageInfo"]["endCursor"]
    assert seen == [f"Person {i}" for i in range(7)]
    r = await gql(client, SEARCH, {"n": 3, "a": "bogus"}, token=admin)
    assert "cursor" in r.json()["errors"][0]["message"]
    r = await gql(client, SEARCH, {"f": {"jobId": "not-an-id"}}, token=admin)
    assert "not an id" in r.json()["errors"][0]["message"]


async def test_apply_rules(client, admin):
    cid = await api.candidate(client, admin)
    draft = (await api.ok(client, api.CREATE_JOB, {"i": {"title": "Draft"}}, admin, "createJob"))[
        "job"
    ]["id"]
    r = await gql(client, api.APPLY, {"c": cid, "j": draft}, token=admin)
    assert r.json()["data"]["apply"]["errors"][0]["code"] == "job_not_open"
    job = await api.job(client, admin)
    r = await gql(client, api.APPLY, {"c": cid, "j": job, "s": 101}, token=admin)
    assert r.json()["data"]["apply"]["errors"][0]["path"] == ["matchScore"]
    await api.application(client, admin, cid, job)
    r = await gql(client, api.APPLY, {"c": cid, "j": job}, token=admin)
    assert r.json()["data"]["apply"]["__typename"] == "ConflictError"
