"""Scheduling: the state machine, slots that cannot be double-booked, bulk all-or-nothing,
availability, and ids that are unknown or belong to another tenant."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from tests.helpers import gql, make_tenant, token_for
from tests.recruiting import api
from tests.recruiting.api import future


@pytest.fixture
async def admin(client):
    await make_tenant("acme")
    return await token_for(client, "admin@acme.example", "acme")


async def _apps(client, admin, n: int) -> list[str]:
    job = await api.job(client, admin)
    out = []
    for i in range(n):
        c = await api.candidate(client, admin, f"C{i}", f"1380000{i:04d}", f"c{i}@x.example")
        out.append(await api.application(client, admin, c, job))
    return out


async def _state(client, admin, iid: str, to: str) -> dict:
    r = await gql(client, api.TRANSITION, {"id": iid, "s": to}, token=admin)
    return r.json()["data"]["transitionInterview"]


async def test_state_machine_legal_path_and_application_stage(client, admin):
    (app,) = await _apps(client, admin, 1)
    iv = await api.ai_interview(client, admin, app)
    for to in ("confirmed", "started", "completed"):
        assert (await _state(client, admin, iv["id"], to))["interview"]["state"] == to
    r = await gql(
        client,
        f'{{ node(id: "{app}") {{ ... on Application {{ stage history '
        "{ fromStage toStage } } } }",
        token=admin,
    )
    node = r.json()["data"]["node"]
    assert node["stage"] == "interviewed"
    assert [h["toStage"] for h in node["history"]] == [
        "applied",
        "interview_scheduled",
        "interviewed",
    ]


@pytest.mark.parametrize(
    ("path", "illegal"),
    [
        (["confirmed", "started", "completed"], "confirmed"),
        (["cancelled"], "started"),
        (["no_show"], "completed"),
        ([], "completed"),
        (["started"], "scheduled"),
    ],
)
async def test_illegal_transitions_are_refused_and_change_nothing(client, admin, path, illegal):
    (app,) = await _apps(client, admin, 1)
    iv = await api.ai_interview(client, admin, app)
    for to in path:
        await _state(client, admin, iv["id"], to)
    res = await _state(client, admin, iv["id"], illegal)
    assert res["__typename"] == "InvalidInputError"
    err = res["errors"][0]
    assert err["code"] == "illegal_transition" and err["path"] == ["state"]
    current = path[-1] if path else "scheduled"
    assert f"from {current} to {illegal}" in err["message"]
    r = await gql(client, f'{{ interview(id: "{iv["id"]}") {{ state }} }}', token=admin)
    assert r.json()["data"]["interview"]["state"] == current
    unknown = await _state(client, admin, iv["id"], "teleported")
    assert unknown["errors"][0]["message"].startswith("unknown state")


async def test_live_slot_cannot_be_double_booked_under_concurrency(client, admin):
    apps = await _apps(client, admin, 8)
    _, slot = await api.interviewer_with_slot(client, admin, capacity=3)

    async def book(app: str) -> dict:
        r = await gql(
            client,
            api.SCHEDULE,
            {"i": {"applicationId": app, "kind": "live", "slotId": slot}},
            token=admin,
        )
        return r.json()["data"]["scheduleInterview"]

    results = await asyncio.gather(*(book(a) for a in apps))
    kinds = [r["__typename"] for r in results]
    assert kinds.count("InterviewPayload") == 3, results
    assert kinds.count("ConflictError") == 5
    assert all("slot is full" in r["message"] for r in results if "message" in r)
    r = await gql(
        client, f'{{ node(id: "{slot}") {{ ... on Slot {{ booked capacity }} }} }}', token=admin
    )
    assert r.json()["data"]["node"] == {"booked": 3, "capacity": 3}


async def test_cancel_frees_the_seat(client, admin):
    a1, a2 = await _apps(client, admin, 2)
    _, slot = await api.interviewer_with_slot(client, admin, capacity=1)
    first = await api.ok(
        client,
        api.SCHEDULE,
        {"i": {"applicationId": a1, "kind": "live", "slotId": slot}},
        admin,
        "scheduleInterview",
    )
    full = await gql(
        client,
        api.SCHEDULE,
        {"i": {"applicationId": a2, "kind": "live", "slotId": slot}},
        token=admin,
    )
    assert full.json()["data"]["scheduleInterview"]["__typename"] == "ConflictError"
    r = await gql(
        client,
        """mutation($id: ID!) { cancelInterview(id: $id, reason: "sick") {
        ... on InterviewPayload { interview { state cancelReason } } } }""",
        {"id": first["interview"]["id"]},
        token=admin,
    )
    assert r.json()["data"]["cancelInterview"]["interview"] == {
        "state": "cancelled",
        "cancelReason": "sick",
    }
    again = await api.ok(
        client,
        api.SCHEDULE,
        {"i": {"applicationId": a2, "kind": "live", "slotId": slot}},
        admin,
        "scheduleInterview",
    )
    assert again["interview"]["interviewer"] == {"name": "Dr. Zhang"}


async def test_second_interview_needs_the_first_closed_and_counts_attempts(client, admin):
    (app,) = await _apps(client, admin, 1)
    iv = await api.ai_interview(client, admin, app)
    dup = await gql(
        client,
        api.SCHEDULE,
        {
            "i": {
                "applicationId": app,
                "kind": "ai_async",
                "opensAt": future(1).isoformat(),
                "closesAt": future(2).isoformat(),
            }
        },
        token=admin,
    )
    assert dup.json()["data"]["scheduleInterview"]["__typename"] == "ConflictError"
    await _state(client, admin, iv["id"], "no_show")
    second = await api.ai_interview(client, admin, app, days=2)
    assert second["attempt"] == 2


@pytest.mark.parametrize(
    ("inp", "path"),
    [
        ({"kind": "phone"}, ["kind"]),
        ({"kind": "ai_async"}, ["opensAt"]),
        ({"kind": "ai_async", "opensAt": "OPEN+2", "closesAt": "OPEN+1"}, ["closesAt"]),
        ({"kind": "ai_async", "opensAt": "OPEN-3", "closesAt": "OPEN-2"}, ["closesAt"]),
        ({"kind": "ai_async", "opensAt": "OPEN+1", "closesAt": "OPEN+40"}, ["closesAt"]),
        ({"kind": "live"}, ["slotId"]),
        (
            {"kind": "ai_async", "opensAt": "OPEN+1", "closesAt": "OPEN+2", "slotId": "SLOT"},
            ["slotId"],
        ),
    ],
)
async def test_schedule_bad_input(client, admin, inp, path):
    (app,) = await _apps(client, admin, 1)
    _, slot = await api.interviewer_with_slot(client, admin)
    for key in ("opensAt", "closesAt"):
        if key in inp:
            days = int(inp[key][4:])
            inp[key] = future(days).isoformat()
    if inp.get("slotId") == "SLOT":
        inp["slotId"] = slot
    r = await gql(client, api.SCHEDULE, {"i": {"applicationId": app, **inp}}, token=admin)
    res = r.json()["data"]["scheduleInterview"]
    assert res["__typename"] == "InvalidInputError", res
    assert res["errors"][0]["path"] == path
    count = await gql(client, "{ interviews(first: 1) { totalCount } }", token=admin)
    assert count.json()["data"]["interviews"]["totalCount"] == 0


async def test_bulk_schedule_is_all_or_nothing(client, admin):
    apps = await _apps(client, admin, 5)
    _, slot = await api.interviewer_with_slot(client, admin, capacity=3)
    bulk = """mutation($i: [ScheduleInterviewInput!]!) { scheduleInterviews(inputs: $i) {
      __typename ... on InterviewsPayload { interviews { state } }
      ... on InvalidInputError { errors { path message } }
      ... on ConflictError { message path } } }"""
    live = [{"applicationId": a, "kind": "live", "slotId": slot} for a in apps[:4]]
    r = await gql(client, bulk, {"i": live}, token=admin)
    res = r.json()["data"]["scheduleInterviews"]
    assert res["__typename"] == "ConflictError" and res["path"] == ["inputs", "3", "slotId"]
    count = await gql(client, "{ interviews(first: 1) { totalCount } }", token=admin)
    assert count.json()["data"]["interviews"]["totalCount"] == 0
    seat = await gql(
        client, f'{{ node(id: "{slot}") {{ ... on Slot {{ booked }} }} }}', token=admin
    )
    assert seat.json()["data"]["node"]["booked"] == 0

    bad = [
        {"applicationId": apps[0], "kind": "ai_async"},
        {"applicationId": apps[0], "kind": "nope"},
    ]
    res = (await gql(client, bulk, {"i": bad}, token=admin)).json()["data"]["scheduleInterviews"]
    assert res["__typename"] == "InvalidInputError"
    assert {tuple(e["path"]) for e in res["errors"]} >= {
        ("inputs", "0", "opensAt"),
        ("inputs", "1", "kind"),
    }

    window = {
        "kind": "ai_async",
        "opensAt": future(1).isoformat(),
        "closesAt": future(3).isoformat(),
    }
    ok = [{"applicationId": a, **window} for a in apps[:3]] + [
        {"applicationId": apps[3], "kind": "live", "slotId": slot}
    ]
    res = (await gql(client, bulk, {"i": ok}, token=admin)).json()["data"]["scheduleInterviews"]
    assert [i["state"] for i in res["interviews"]] == ["scheduled"] * 4


async def test_availability_rules_and_slots(client, admin):
    iid = (
        await api.ok(
            client,
            api.ADD_INTERVIEWER,
            {"i": {"name": "Dr. Sun", "timeZone": "Asia/Shanghai"}},
            admin,
            "addInterviewer",
        )
    )["interviewer"]["id"]
    bad = [
        ({"w": [{"weekday": 7, "start": "09:00", "end": "17:00"}]}, ["weekly", "0", "weekday"]),
        ({"w": [{"weekday": 1, "start": "17:00", "end": "09:00"}]}, ["weekly", "0"]),
        ({"w": [{"weekday": 1, "start": "9am", "end": "17:00"}]}, ["weekly", "0", "start"]),
        (
            {
                "w": [
                    {"weekday": 1, "start": "09:00", "end": "12:00"},
                    {"weekday": 1, "start": "11:00", "end": "13:00"},
                ]
            },
            ["weekly", "1"],
        ),
    ]
    for variables, path in bad:
        r = await gql(client, api.SET_AVAILABILITY, {"id": iid, **variables}, token=admin)
        res = r.json()["data"]["setAvailability"]
        assert res["__typename"] == "InvalidInputError" and res["errors"][0]["path"] == path
    monday = future(7, hour=0)
    monday += timedelta(days=(7 - monday.weekday()) % 7)  # a Monday, 00:00 UTC
    weekly = [{"weekday": 0, "start": "09:00", "end": "12:00"}]  # Shanghai time
    blocked = {
        "startsAt": (monday + timedelta(hours=2)).isoformat(),
        "endsAt": (monday + timedelta(hours=3)).isoformat(),
        "reason": "surgery",
    }
    r = await api.ok(
        client,
        api.SET_AVAILABILITY,
        {"id": iid, "w": weekly, "e": [blocked]},
        admin,
        "setAvailability",
    )
    assert r["weekly"] == [{"weekday": 0, "start": "09:00", "end": "12:00"}]

    async def slot(start_h: float, minutes: int = 30) -> dict:
        start = monday + timedelta(hours=start_h)  # UTC; Shanghai is UTC+8
        r = await gql(
            client,
            api.CREATE_SLOT,
            {
                "i": {
                    "interviewerId": iid,
                    "startsAt": start.isoformat(),
                    "endsAt": (start + timedelta(minutes=minutes)).isoformat(),
                }
            },
            token=admin,
        )
        return r.json()["data"]["createSlot"]

    assert (await slot(1.0))["__typename"] == "SlotPayload"  # 09:00 Shanghai
    assert (await slot(2.5))["errors"][0]["code"] == "unavailable"  # the surgery
    assert (await slot(5.0))["errors"][0]["code"] == "unavailable"  # 13:00 Shanghai
    assert (await slot(1.0, 0))["errors"][0]["path"] == ["endsAt"]


async def test_unknown_and_foreign_ids(client, admin):
    await make_tenant("beta")
    beta = await token_for(client, "admin@beta.example", "beta")
    (app,) = await _apps(client, admin, 1)
    iv = await api.ai_interview(client, admin, app)
    foreign_job = await api.job(client, beta, "Beta job")
    foreign_cand = await api.candidate(client, beta, "Beta person", "13700000000", "b@x.example")
    # Tenant A's admin using tenant B's ids: nothing is found, nothing changes in B.
    r = await gql(client, api.APPLY, {"c": foreign_cand, "j": foreign_job}, token=admin)
    assert r.json()["data"]["apply"]["__typename"] == "NotFoundError"
    r = await gql(client, f'{{ candidate(id: "{foreign_cand}") {{ name }} }}', token=admin)
    assert r.json()["data"]["candidate"] is None
    r = await gql(client, f'{{ node(id: "{foreign_job}") {{ id }} }}', token=admin)
    assert r.json()["data"]["node"] is None
    r = await gql(client, api.TRANSITION, {"id": iv["id"], "s": "cancelled"}, token=beta)
    assert r.json()["data"]["transitionInterview"]["__typename"] == "NotFoundError"
    r = await gql(client, api.TRANSITION, {"id": "bm9wZQ==", "s": "cancelled"}, token=admin)
    assert r.json()["data"]["transitionInterview"]["__typename"] == "InvalidInputError"
    r = await gql(client, api.TRANSITION, {"id": foreign_job, "s": "cancelled"}, token=admin)
    err = r.json()["data"]["transitionInterview"]["errors"][0]
    assert "names a Job; expected: Interview" in err["message"]
    still = await gql(client, f'{{ interview(id: "{iv["id"]}") {{ state }} }}', token=admin)
    assert still.json()["data"]["interview"]["state"] == "scheduled"
