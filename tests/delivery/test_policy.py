"""When reminders are due: offsets, anchors, quiet hours in the candidate's zone, catch-up."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from turnout.delivery import policy as p
from turnout.kit.errors import InvalidInput

OPENS = datetime(2026, 12, 10, 6, 0, tzinfo=UTC)  # 14:00 in Shanghai
CLOSES = OPENS + timedelta(days=3)
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def test_default_policy_in_the_candidates_zone():
    got = p.plan(p.DEFAULT, "ai_async", OPENS, CLOSES, "Asia/Shanghai", NOW)
    assert [(x.step, x.channel, x.due_at) for x in got] == [
        (0, "email", OPENS - timedelta(days=2)),
        (0, "sms", OPENS - timedelta(days=2)),
        (1, "push", OPENS - timedelta(hours=1)),
        (1, "voice", OPENS - timedelta(hours=1)),
        (1, "wechat", OPENS - timedelta(hours=1)),
    ]


def test_quiet_hours_move_a_step_to_their_end_in_the_candidates_zone():
    opens = datetime(2026, 12, 10, 0, 30, tzinfo=UTC)  # 08:30 Shanghai; 1 h before = 07:30
    got = p.plan(
        p.DEFAULT, "live", opens, opens + timedelta(hours=1), "Asia/Shanghai", NOW, ["sms"]
    )
    late = [x for x in got if x.step == 1]
    assert late == []  # voice/push/wechat not reachable; sms is not in step 1
    policy = p.Policy(
        steps=[p.Step(offset_minutes=60, channels=["sms"])], quiet_start=time(21), quiet_end=time(8)
    )
    (only,) = p.plan(policy, "live", opens, opens + timedelta(hours=1), "Asia/Shanghai", NOW)
    assert only.due_at == datetime(2026, 12, 10, 0, 0, tzinfo=UTC)  # 08:00 Shanghai
    assert only.moved_by_quiet_hours
    # In London 23:30 is quiet too, but 08:00 would be after the interview itself: the
    # reminder keeps its time rather than come too late.
    (london,) = p.plan(policy, "live", opens, opens + timedelta(hours=1), "Europe/London", NOW)
    assert london.due_at == opens - timedelta(hours=1)


def test_missed_steps_collapse_into_one_message_now():
    now = OPENS - timedelta(hours=5)  # booked 5 hours before: the 2-day step is past
    got = p.plan(p.DEFAULT, "ai_async", OPENS, CLOSES, "UTC", now, ["sms", "email", "voice"])
    assert [(x.step, x.channel, x.due_at) for x in got] == [
        (0, "email", now),
        (0, "sms", now),
        (1, "voice", OPENS - timedelta(hours=1)),
    ]
    assert (
        p.plan(p.DEFAULT, "ai_async", OPENS, CLOSES, "UTC", OPENS + timedelta(hours=1), ["sms"])
        == []
    )  # nothing is sent once the interview has begun


def test_window_close_anchor():
    policy = p.Policy(
        steps=[p.Step(offset_minutes=120, channels=["sms"], anchor="window_close")],
        quiet_start=None,
        quiet_end=None,
    )
    (x,) = p.plan(policy, "ai_async", OPENS, CLOSES, "UTC", NOW)
    assert x.due_at == CLOSES - timedelta(hours=2)


@pytest.mark.parametrize(
    "steps",
    [
        [],
        [p.Step(offset_minutes=-1, channels=["sms"])],
        [p.Step(offset_minutes=60, channels=["sms", "sms"])],
        [p.Step(offset_minutes=60, channels=["sms"], anchor="lunch")],
        [
            p.Step(
                offset_minutes=60,
                channels=["sms"],
                escalate_after_minutes=1,
                escalate_channel="voice",
            )
        ],
    ],
)
def test_bad_steps(steps):
    with pytest.raises(InvalidInput):
        p.check(p.Policy(steps=steps))
