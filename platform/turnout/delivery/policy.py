"""Reminder policies: validated steps, and when each message of an interview is due.

A step is due at an offset from an anchor of the interview (its start, or the AI window's
opening or closing), on one or more channels, under a condition. A step may escalate: if
none of its messages is opened within `escalate_after_minutes`, one more message goes out on
`escalate_channel`. Quiet hours (in the candidate's time zone) push a due time to their end.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ..kit.errors import FieldProblem, InvalidInput

CHANNELS = ("sms", "email", "voice", "wechat", "push")
BEST = "best"  # in a step: the candidate's best channel, learnt from what they open
ANCHORS = ("start", "window_open", "window_close")
CONDITIONS = ("always", "not_confirmed")
MAX_OFFSET = 60 * 24 * 30  # a month, in minutes


@dataclass
class Step:
    offset_minutes: int  # minutes before the anchor (positive = before)
    channels: list[str]
    anchor: str = "start"
    condition: str = "always"
    escalate_after_minutes: int | None = None
    escalate_channel: str | None = None


@dataclass
class Policy:
    steps: list[Step]
    quiet_start: time | None = time(21, 0)
    quiet_end: time | None = time(8, 0)

    def to_json(self) -> dict:
        return {
            "steps": [asdict(s) for s in self.steps],
            "quiet_start": self.quiet_start.isoformat() if self.quiet_start else None,
            "quiet_end": self.quiet_end.isoformat() if self.quiet_end else None,
        }

    @classmethod
    def from_json(cls, data: dict) -> Policy:
        return cls(
            steps=[Step(**s) for s in data["steps"]],
            quiet_start=time.fromisoformat(data["quiet_start"])
            if data.get("quiet_start")
            else None,
            quiet_end=time.fromisoformat(data["quiet_end"]) if data.get("quiet_end") else None,
        )


DEFAULT = Policy(
    steps=[
        Step(
            offset_minutes=2 * 24 * 60,
            channels=["sms", "email"],
            escalate_after_minutes=60,
            escalate_channel="voice",
        ),
        Step(offset_minutes=60, channels=["push", "wechat", "voice"], condition="always"),
    ]
)


def check(policy: Policy) -> Policy:
    """The policy if it is sound, else InvalidInput naming every problem."""
    p: list[FieldProblem] = []
    if not policy.steps:
        p.append(FieldProblem("steps", "a policy needs at least one step"))
    if len(policy.steps) > 20:
        p.append(FieldProblem("steps", "at most 20 steps"))
    for n, s in enumerate(policy.steps):
        at = f"steps.{n}"
        if not 0 <= s.offset_minutes <= MAX_OFFSET:
            p.append(
                FieldProblem(
                    f"{at}.offsetMinutes", f"must be 0 to {MAX_OFFSET} minutes before the anchor"
                )
            )
        if s.anchor not in ANCHORS:
            p.append(FieldProblem(f"{at}.anchor", f"must be one of {', '.join(ANCHORS)}"))
        if s.condition not in CONDITIONS:
            p.append(FieldProblem(f"{at}.condition", f"must be one of {', '.join(CONDITIONS)}"))
        if not s.channels:
            p.append(FieldProblem(f"{at}.channels", "at least one channel"))
        for c in s.channels:
            if c not in (*CHANNELS, BEST):
                p.append(
                    FieldProblem(
                        f"{at}.channels", f"unknown channel {c!r}; channels: {', '.join(CHANNELS)}"
                    )
                )
        if len(set(s.channels)) != len(s.channels):
            p.append(FieldProblem(f"{at}.channels", "a channel is named twice"))
        if (s.escalate_after_minutes is None) != (s.escalate_channel is None):
            p.append(
                FieldProblem(
                    f"{at}.escalateChannel",
                    "escalation needs both escalateAfterMinutes and a channel",
                )
            )
        elif s.escalate_after_minutes is not None:
            if not 5 <= s.escalate_after_minutes <= 24 * 60:
                p.append(FieldProblem(f"{at}.escalateAfterMinutes", "must be 5 to 1440"))
            if s.escalate_channel not in (*CHANNELS, BEST):
                p.append(FieldProblem(f"{at}.escalateChannel", "unknown channel"))
    for n, a in enumerate(policy.steps):
        for m, b in enumerate(policy.steps[:n]):
            if (a.anchor, a.offset_minutes) == (b.anchor, b.offset_minutes):
                p.append(FieldProblem(f"steps.{n}.offsetMinutes", f"overlaps steps.{m}"))
    if (policy.quiet_start is None) != (policy.quiet_end is None):
        p.append(FieldProblem("quietStart", "quiet hours need both a start and an end"))
    if p:
        raise InvalidInput(problems=p)
    return policy


def anchor_time(step: Step, kind: str, opens_at: datetime, closes_at: datetime) -> datetime:
    if step.anchor == "window_close":
        return closes_at
    return opens_at  # a live interview's start is its slot's start


def out_of_quiet_hours(
    due: datetime, tz: str, policy: Policy, deadline: datetime | None = None
) -> datetime:
    """Move a due time inside the candidate's quiet hours to the end of them, unless that
    would be after `deadline` (the interview itself): then the reminder keeps its time."""
    if policy.quiet_start is None or policy.quiet_end is None:
        return due
    local = due.astimezone(ZoneInfo(tz))
    t, qs, qe = local.time(), policy.quiet_start, policy.quiet_end
    inside = (qs <= t or t < qe) if qs > qe else (qs <= t < qe)
    if not inside:
        return due
    end = local.replace(hour=qe.hour, minute=qe.minute, second=0, microsecond=0)
    if end <= local:
        end += timedelta(days=1)
    end = end.astimezone(due.tzinfo)
    return due if deadline is not None and end > deadline else end


@dataclass
class Planned:
    step: int
    channel: str
    due_at: datetime
    condition: str
    escalate_after_minutes: int | None = None
    escalate_channel: str | None = None
    moved_by_quiet_hours: bool = False
    extra: dict = field(default_factory=dict)


def plan(
    policy: Policy,
    kind: str,
    opens_at: datetime,
    closes_at: datetime,
    tz: str,
    now: datetime,
    channels_allowed: list[str] | None = None,
) -> list[Planned]:
    """Messages for one interview, soonest first. Of the steps whose time has already
    passed, the latest is sent now (an interview booked for tomorrow still gets its reminder;
    it does not get every missed one); a channel the candidate cannot be reached on is left
    out."""
    timed = []
    for n, s in enumerate(policy.steps):
        due = anchor_time(s, kind, opens_at, closes_at) - timedelta(minutes=s.offset_minutes)
        start = anchor_time(s, kind, opens_at, closes_at)
        timed.append((out_of_quiet_hours(due, tz, policy, max(start, due)), due, n, s))
    past = [t for t in timed if t[0] < now]
    keep = [t for t in timed if t[0] >= now]
    if past and now < opens_at:
        latest = max(past, key=lambda t: t[0])
        moved = out_of_quiet_hours(now, tz, policy, opens_at)
        keep.append((moved, now, latest[2], latest[3]))

    def resolve(c: str | None) -> str | None:
        if c != BEST:
            return c
        return channels_allowed[0] if channels_allowed else None

    out = []
    for moved, due, n, s in keep:
        if moved > closes_at:
            continue
        for c in dict.fromkeys(resolve(c) for c in s.channels):  # "best" may repeat one
            if c is not None and (channels_allowed is None or c in channels_allowed):
                out.append(
                    Planned(
                        n,
                        c,
                        moved,
                        s.condition,
                        s.escalate_after_minutes,
                        resolve(s.escalate_channel),
                        moved != due,
                    )
                )
    return sorted(out, key=lambda p: (p.due_at, p.step, p.channel))
