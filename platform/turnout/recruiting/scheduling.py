"""Interviewers and their availability, slots, interviews and the interview state machine."""

from __future__ import annotations

import uuid
import zoneinfo
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.fields import TenantCipher
from ..delivery import service as delivery
from ..delivery import webhooks
from ..evidence import service as evidence
from ..kit.clock import clock
from ..kit.errors import Conflict, FieldProblem, InvalidInput, NotFound, invalid
from ..kit.ids import new_secret, sha256_hex
from ..kit.timezones import valid_time_zone
from .models import (
    INTERVIEW_KINDS,
    Application,
    AvailabilityException,
    AvailabilityRule,
    Interview,
    Interviewer,
    Slot,
)
from .service import record_stage

ACTIVE = ("scheduled", "confirmed", "started")
TRANSITIONS: dict[str, frozenset[str]] = {
    "scheduled": frozenset({"confirmed", "started", "no_show", "cancelled", "rescheduled"}),
    "confirmed": frozenset({"started", "no_show", "cancelled", "rescheduled"}),
    "started": frozenset({"completed", "no_show"}),
    "completed": frozenset(),
    "no_show": frozenset(),
    "cancelled": frozenset(),
    "rescheduled": frozenset(),
}
# What an interview's new state means for its application.
STAGE_AFTER = {"scheduled": "interview_scheduled", "completed": "interviewed", "no_show": "no_show"}
LINK_GRACE = timedelta(days=2)  # the candidate link keeps working this long after closing
MAX_WINDOW = timedelta(days=31)


# --- interviewers and availability ---------------------------------------------------


async def add_interviewer(
    session: AsyncSession, name: str, email: str, time_zone: str, user_id: uuid.UUID | None
) -> Interviewer:
    p = []
    if not 1 <= len(name.strip()) <= 200:
        p.append(FieldProblem("name", "must be 1-200 characters"))
    if not valid_time_zone(time_zone):
        p.append(FieldProblem("timeZone", f"unknown time zone {time_zone!r}"))
    if p:
        raise InvalidInput(problems=p)
    if user_id and await session.scalar(
        select(Interviewer.id).where(Interviewer.user_id == user_id)
    ):
        raise Conflict("this user is already an interviewer", "userId")
    i = Interviewer(
        id=uuid.uuid4(),
        name=name.strip(),
        email=email.strip().lower(),
        time_zone=time_zone,
        user_id=user_id,
    )
    session.add(i)
    await session.flush()
    return i


async def get_interviewer(
    session: AsyncSession, iid: uuid.UUID, field: str = "interviewerId"
) -> Interviewer:
    i = await session.get(Interviewer, iid)
    if i is None:
        raise NotFound("no such interviewer", field)
    return i


async def interviewer_of_user(
    session: AsyncSession, user_id: uuid.UUID | None
) -> Interviewer | None:
    if user_id is None:
        return None
    return (
        await session.execute(select(Interviewer).where(Interviewer.user_id == user_id))
    ).scalar_one_or_none()


@dataclass
class WeeklyWindow:
    weekday: int
    start: time
    end: time


@dataclass
class ExceptionWindow:
    starts_at: datetime
    ends_at: datetime
    available: bool = False
    reason: str = ""


async def set_availability(
    session: AsyncSession,
    interviewer_id: uuid.UUID,
    weekly: list[WeeklyWindow],
    exceptions: list[ExceptionWindow],
) -> Interviewer:
    p = []
    for n, w in enumerate(weekly):
        if not 0 <= w.weekday <= 6:
            p.append(FieldProblem(f"weekly.{n}.weekday", "must be 0 (Monday) to 6 (Sunday)"))
        if w.start >= w.end:
            p.append(FieldProblem(f"weekly.{n}", "start must be before end"))
    for n, a in enumerate(weekly):
        for m, b in enumerate(weekly[:n]):
            if a.weekday == b.weekday and a.start < b.end and b.start < a.end:
                p.append(FieldProblem(f"weekly.{n}", f"overlaps weekly.{m}"))
    for n, e in enumerate(exceptions):
        if e.starts_at.tzinfo is None or e.ends_at.tzinfo is None:
            p.append(FieldProblem(f"exceptions.{n}", "times need a time zone offset"))
        elif e.starts_at >= e.ends_at:
            p.append(FieldProblem(f"exceptions.{n}", "startsAt must be before endsAt"))
    if p:
        raise InvalidInput(problems=p)
    interviewer = await get_interviewer(session, interviewer_id)
    await session.execute(
        delete(AvailabilityRule).where(AvailabilityRule.interviewer_id == interviewer_id)
    )
    await session.execute(
        delete(AvailabilityException).where(AvailabilityException.interviewer_id == interviewer_id)
    )
    session.add_all(
        [
            AvailabilityRule(
                interviewer_id=interviewer_id, weekday=w.weekday, start_time=w.start, end_time=w.end
            )
            for w in weekly
        ]
    )
    session.add_all(
        [
            AvailabilityException(
                interviewer_id=interviewer_id,
                starts_at=e.starts_at,
                ends_at=e.ends_at,
                available=e.available,
                reason=e.reason[:200],
            )
            for e in exceptions
        ]
    )
    await session.flush()
    return interviewer


async def is_available(
    session: AsyncSession, interviewer: Interviewer, start: datetime, end: datetime
) -> bool:
    """Inside a weekly window (in the interviewer's zone) or an 'available' exception, and
    not overlapping an 'unavailable' exception."""
    exceptions = (
        (
            await session.execute(
                select(AvailabilityException).where(
                    AvailabilityException.interviewer_id == interviewer.id,
                    AvailabilityException.starts_at < end,
                    AvailabilityException.ends_at > start,
                )
            )
        )
        .scalars()
        .all()
    )
    if any(not e.available for e in exceptions):
        return False
    if any(e.available and e.starts_at <= start and e.ends_at >= end for e in exceptions):
        return True
    tz = zoneinfo.ZoneInfo(interviewer.time_zone)
    local_start, local_end = start.astimezone(tz), end.astimezone(tz)
    if local_start.date() != local_end.date() and local_end.time() != time(0):
        return False
    rules = (
        (
            await session.execute(
                select(AvailabilityRule).where(
                    AvailabilityRule.interviewer_id == interviewer.id,
                    AvailabilityRule.weekday == local_start.weekday(),
                )
            )
        )
        .scalars()
        .all()
    )
    end_t = local_end.time() if local_end.time() != time(0) else time.max
    return any(r.start_time <= local_start.time() and end_t <= r.end_time for r in rules)


# --- slots ---------------------------------------------------------------------------


async def create_slot(
    session: AsyncSession,
    interviewer_id: uuid.UUID,
    starts_at: datetime,
    ends_at: datetime,
    capacity: int,
    location: str,
) -> Slot:
    p = []
    if starts_at.tzinfo is None or ends_at.tzinfo is None:
        p.append(FieldProblem("startsAt", "times need a time zone offset"))
    elif starts_at >= ends_at:
        p.append(FieldProblem("endsAt", "must be after startsAt"))
    elif starts_at <= clock.now():
        p.append(FieldProblem("startsAt", "must be in the future"))
    if not 1 <= capacity <= 500:
        p.append(FieldProblem("capacity", "must be between 1 and 500"))
    if p:
        raise InvalidInput(problems=p)
    interviewer = await get_interviewer(session, interviewer_id)
    if not await is_available(session, interviewer, starts_at, ends_at):
        raise invalid("startsAt", "the interviewer is not available then", "unavailable")
    slot = Slot(
        id=uuid.uuid4(),
        interviewer_id=interviewer_id,
        starts_at=starts_at,
        ends_at=ends_at,
        capacity=capacity,
        booked=0,
        location=location[:200],
    )
    session.add(slot)
    await session.flush()
    return slot


async def _book(session: AsyncSession, slot_id: uuid.UUID, seats: int, field: str) -> Slot:
    """Take seats in one statement, so concurrent bookings cannot overfill a slot."""
    row = (
        await session.execute(
            update(Slot)
            .where(
                Slot.id == slot_id,
                Slot.booked + seats <= Slot.capacity,
                Slot.starts_at > clock.now(),
            )
            .values(booked=Slot.booked + seats)
            .returning(Slot)
            .execution_options(synchronize_session=False)
        )
    ).scalar_one_or_none()
    if row is not None:
        return row
    slot = await session.get(Slot, slot_id)
    if slot is None:
        raise NotFound("no such slot", field)
    if slot.starts_at <= clock.now():
        raise invalid(field, "the slot has already started", "slot_past")
    raise Conflict(f"the slot is full ({slot.booked} of {slot.capacity} booked)", field)


async def _release(session: AsyncSession, slot_id: uuid.UUID | None) -> None:
    if slot_id is not None:
        await session.execute(
            update(Slot).where(Slot.id == slot_id, Slot.booked > 0).values(booked=Slot.booked - 1)
        )


# --- interviews ----------------------------------------------------------------------


@dataclass
class InterviewRequest:
    application_id: uuid.UUID
    kind: str
    opens_at: datetime | None = None
    closes_at: datetime | None = None
    slot_id: uuid.UUID | None = None


def _check_request(r: InterviewRequest, prefix: str = "") -> list[FieldProblem]:
    p = []
    if r.kind not in INTERVIEW_KINDS:
        return [FieldProblem(f"{prefix}kind", f"must be one of {', '.join(INTERVIEW_KINDS)}")]
    if r.kind == "live":
        if r.slot_id is None:
            p.append(FieldProblem(f"{prefix}slotId", "a live interview needs a slot"))
        if r.opens_at or r.closes_at:
            p.append(FieldProblem(f"{prefix}opensAt", "a live interview takes its slot's times"))
        return p
    if r.slot_id is not None:
        p.append(FieldProblem(f"{prefix}slotId", "an AI interview has a window, not a slot"))
    if r.opens_at is None or r.closes_at is None:
        p.append(FieldProblem(f"{prefix}opensAt", "an AI interview needs opensAt and closesAt"))
    elif r.opens_at.tzinfo is None or r.closes_at.tzinfo is None:
        p.append(FieldProblem(f"{prefix}opensAt", "times need a time zone offset"))
    elif r.opens_at >= r.closes_at:
        p.append(FieldProblem(f"{prefix}closesAt", "must be after opensAt"))
    elif r.closes_at <= clock.now():
        p.append(FieldProblem(f"{prefix}closesAt", "must be in the future"))
    elif r.closes_at - r.opens_at > MAX_WINDOW:
        p.append(FieldProblem(f"{prefix}closesAt", "a window is at most 31 days"))
    return p


async def schedule(
    session: AsyncSession, cipher: TenantCipher, r: InterviewRequest, actor: str, prefix: str = ""
) -> Interview:
    problems = _check_request(r, prefix)
    if problems:
        raise InvalidInput(problems=problems)
    app = await session.get(Application, r.application_id)
    if app is None:
        raise NotFound("no such application", f"{prefix}applicationId")
    prior = (
        (await session.execute(select(Interview.state).where(Interview.application_id == app.id)))
        .scalars()
        .all()
    )
    if any(s in ACTIVE for s in prior):
        raise Conflict(
            "the application already has an interview in progress; cancel or reschedule it first",
            f"{prefix}applicationId",
        )
    opens, closes, interviewer_id = r.opens_at, r.closes_at, None
    if r.kind == "live":
        slot = await _book(session, r.slot_id, 1, f"{prefix}slotId")
        opens, closes, interviewer_id = slot.starts_at, slot.ends_at, slot.interviewer_id
    token = new_secret(32)
    interview = Interview(
        id=uuid.uuid4(),
        application_id=app.id,
        candidate_id=app.candidate_id,
        job_id=app.job_id,
        kind=r.kind,
        state="scheduled",
        opens_at=opens,
        closes_at=closes,
        slot_id=r.slot_id,
        interviewer_id=interviewer_id,
        attempt=len(prior) + 1,
        link_token_hash=sha256_hex(token),
        link_expires_at=closes + LINK_GRACE,
    )
    interview.link_token_enc = cipher.encrypt(token, "interviews", "link_token_enc", interview.id)
    session.add(interview)
    await record_stage(session, app, "interview_scheduled", actor)
    await session.flush()
    await evidence.record(
        session,
        "interview.scheduled",
        {
            "kind": interview.kind,
            "opens_at": interview.opens_at.isoformat(),
            "closes_at": interview.closes_at.isoformat(),
            "attempt": interview.attempt,
            "job_id": str(interview.job_id),
        },
        actor=evidence.as_actor(actor),
        candidate_id=interview.candidate_id,
        interview_id=interview.id,
    )
    # The reminders are written in this transaction: committed together or not at all.
    await delivery.plan_for_interview(session, cipher, interview)
    await webhooks.emit(session, "interview.scheduled", webhooks.interview_data(interview))
    return interview


async def schedule_many(
    session: AsyncSession, cipher: TenantCipher, requests: list[InterviewRequest], actor: str
) -> list[Interview]:
    """All or nothing: the first problem of each request is reported, with its index."""
    if not requests:
        raise invalid("inputs", "nothing to schedule")
    if len(requests) > 10_000:
        raise invalid("inputs", "at most 10000 interviews per call")
    problems = [p for n, r in enumerate(requests) for p in _check_request(r, f"inputs.{n}.")]
    seen: dict[uuid.UUID, int] = {}
    for n, r in enumerate(requests):
        if r.application_id in seen:
            problems.append(
                FieldProblem(
                    f"inputs.{n}.applicationId",
                    f"same application as inputs.{seen[r.application_id]}",
                )
            )
        seen.setdefault(r.application_id, n)
    if problems:
        raise InvalidInput(problems=problems)
    out = []
    async with session.begin_nested():  # one failure rolls every booking back
        for n, r in enumerate(requests):
            out.append(await schedule(session, cipher, r, actor, f"inputs.{n}."))
    return out


async def get_interview(session: AsyncSession, iid: uuid.UUID, field: str = "id") -> Interview:
    i = await session.get(Interview, iid)
    if i is None:
        raise NotFound("no such interview", field)
    return i


async def transition(
    session: AsyncSession, interview: Interview, to: str, actor: str, reason: str = ""
) -> Interview:
    if to not in TRANSITIONS:
        raise invalid("state", f"unknown state {to!r}")
    if to not in TRANSITIONS[interview.state]:
        allowed = ", ".join(sorted(TRANSITIONS[interview.state])) or "nothing (final)"
        raise invalid(
            "state",
            f"an interview cannot go from {interview.state} to {to}; "
            f"from {interview.state} it can go to {allowed}",
            "illegal_transition",
        )
    # Guard against a concurrent change: the row must still be in the state we read.
    done = await session.execute(
        update(Interview)
        .where(Interview.id == interview.id, Interview.state == interview.state)
        .values(
            state=to,
            cancel_reason=reason[:500] if reason else Interview.cancel_reason,
            updated_at=func.now(),
        )
        .execution_options(synchronize_session=False)
    )
    if done.rowcount != 1:
        raise Conflict("the interview changed meanwhile; reload and retry", "id")
    await evidence.record(
        session,
        "interview.state_changed",
        {"from": interview.state, "to": to, **({"reason": reason[:500]} if reason else {})},
        actor=evidence.as_actor(actor),
        candidate_id=interview.candidate_id,
        interview_id=interview.id,
    )
    if to in ("cancelled", "rescheduled"):
        await _release(session, interview.slot_id)
    if to in delivery.FINAL_INTERVIEW_STATES:
        await delivery.void_for_interview(session, interview.id)
    if to in STAGE_AFTER:
        app = await session.get(Application, interview.application_id)
        await record_stage(session, app, STAGE_AFTER[to], actor)
    await session.refresh(interview)
    if f"interview.{to}" in webhooks.EVENTS:
        await webhooks.emit(session, f"interview.{to}", webhooks.interview_data(interview))
    return interview


def link_token(cipher: TenantCipher, interview: Interview) -> str:
    return cipher.decrypt(interview.link_token_enc, "interviews", "link_token_enc", interview.id)


def interviews_query(
    state: str | None = None,
    kind: str | None = None,
    job_id: uuid.UUID | None = None,
    candidate_id: uuid.UUID | None = None,
    interviewer_id: uuid.UUID | None = None,
    starts_from: datetime | None = None,
    starts_to: datetime | None = None,
):
    stmt = select(Interview.__table__)
    if state:
        if state not in TRANSITIONS:
            raise invalid("filter.state", f"must be one of {', '.join(TRANSITIONS)}")
        stmt = stmt.where(Interview.state == state)
    if kind:
        stmt = stmt.where(Interview.kind == kind)
    for col, value in (
        (Interview.job_id, job_id),
        (Interview.candidate_id, candidate_id),
        (Interview.interviewer_id, interviewer_id),
    ):
        if value is not None:
            stmt = stmt.where(col == value)
    if starts_from:
        stmt = stmt.where(Interview.opens_at >= starts_from)
    if starts_to:
        stmt = stmt.where(Interview.opens_at < starts_to)
    return stmt
