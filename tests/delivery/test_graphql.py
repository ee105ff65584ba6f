"""Reminder policies and notifications through GraphQL."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.helpers import gql, make_user, token_for
from turnout.delivery import tasks
from turnout.kit.clock import clock

SET = """mutation($p: String!, $i: ReminderPolicyInput!) { setReminderPolicy(priority: $p,
  input: $i) { __typename ... on ReminderPolicyPayload { policy { priority quietStart
  steps { offsetMinutes channels condition escalateChannel } } }
  ... on InvalidInputError { errors { path message } } } }"""
GOOD = {
    "steps": [
        {"offsetMinutes": 1440, "channels": ["email"]},
        {
            "offsetMinutes": 30,
            "channels": ["sms"],
            "condition": "not_confirmed",
            "escalateAfterMinutes": 10,
            "escalateChannel": "voice",
        },
    ],
    "quietStart": "22:00",
    "quietEnd": "07:30",
}


async def test_policy_read_set_and_preview(client, world):
    admin = world["admin"]
    r = await gql(
        client, "{ reminderPolicy { priority steps { offsetMinutes channels } } }", token=admin
    )
    assert r.json()["data"]["reminderPolicy"]["steps"][0] == {
        "offsetMinutes": 2880,
        "channels": ["sms", "email"],
    }
    r = await gql(client, SET, {"p": "critical", "i": GOOD}, token=admin)
    policy = r.json()["data"]["setReminderPolicy"]["policy"]
    assert policy["priority"] == "critical" and policy["quietStart"] == "22:00"
    r = await gql(
        client, '{ reminderPolicy(priority: "critical") { steps { channels } } }', token=admin
    )
    assert [s["channels"] for s in r.json()["data"]["reminderPolicy"]["steps"]] == [
        ["email"],
        ["sms"],
    ]
    r = await gql(
        client, '{ reminderPolicy(priority: "high") { steps { channels } } }', token=admin
    )  # no override: the default
    assert r.json()["data"]["reminderPolicy"]["steps"][0]["channels"] == ["sms", "email"]
    preview = await gql(
        client,
        f'{{ previewReminders(interviewId: "{world["interview"]}") {{ step channel dueAt }} }}',
        token=admin,
    )
    rows = preview.json()["data"]["previewReminders"]
    assert [(p["step"], p["channel"]) for p in rows] == [(0, "email"), (0, "sms"), (1, "voice")]


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"steps": []}, ["steps"]),
        ({"steps": [{"offsetMinutes": -5, "channels": ["sms"]}]}, ["steps", "0", "offsetMinutes"]),
        ({"steps": [{"offsetMinutes": 60, "channels": ["fax"]}]}, ["steps", "0", "channels"]),
        ({"steps": [{"offsetMinutes": 60, "channels": []}]}, ["steps", "0", "channels"]),
        (
            {
                "steps": [
                    {"offsetMinutes": 60, "channels": ["sms"]},
                    {"offsetMinutes": 60, "channels": ["email"]},
                ]
            },
            ["steps", "1", "offsetMinutes"],
        ),
        (
            {"steps": [{"offsetMinutes": 60, "channels": ["sms"], "escalateAfterMinutes": 30}]},
            ["steps", "0", "escalateChannel"],
        ),
        (
            {"steps": [{"offsetMinutes": 60, "channels": ["sms"], "condition": "maybe"}]},
            ["steps", "0", "condition"],
        ),
        ({"quietStart": "25:00"}, ["quietStart"]),
        ({"quietStart": None}, ["quietStart"]),
    ],
)
async def test_bad_policies_are_refused_and_change_nothing(client, world, change, path):
    r = await gql(client, SET, {"p": "", "i": {**GOOD, **change}}, token=world["admin"])
    res = r.json()["data"]["setReminderPolicy"]
    assert res["__typename"] == "InvalidInputError", res
    assert path in [e["path"] for e in res["errors"]]
    r = await gql(client, "{ reminderPolicy { steps { offsetMinutes } } }", token=world["admin"])
    assert r.json()["data"]["reminderPolicy"]["steps"][0]["offsetMinutes"] == 2880


async def test_only_admins_change_policies_and_notifications_show_on_interviews(
    client,
    provider,
    world,
):
    await make_user("acme", "rec@acme.example", ["recruiter"])
    rec = await token_for(client, "rec@acme.example", "acme")
    r = await gql(client, SET, {"p": "", "i": GOOD}, token=rec)
    assert r.json()["data"] is None and "forbidden" in r.json()["errors"][0]["message"]
    r = await gql(client, SET, {"p": "urgent", "i": GOOD}, token=world["admin"])
    assert r.json()["data"]["setReminderPolicy"]["errors"][0]["path"] == ["priority"]

    clock.freeze(world["opens"] - timedelta(days=2))
    await tasks.tick(clock.now(), inline=True)
    rec = await token_for(client, "rec@acme.example", "acme")  # the clock moved on 2 days
    r = await gql(
        client,
        """{ interviews(first: 5) { edges { node {
        notifications { channel kind status attempts } } } } }""",
        token=rec,
    )
    notes = r.json()["data"]["interviews"]["edges"][0]["node"]["notifications"]
    assert {(n["channel"], n["kind"], n["status"]) for n in notes} >= {
        ("sms", "reminder", "sent"),
        ("email", "reminder", "sent"),
        ("voice", "escalation", "pending"),
    }
