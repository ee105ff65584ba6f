"""The candidate portal's rules: find an interview by its link, rate-limit, and the candidate's
actions (visit, confirm, start, ask for another time, report a problem), each one evidence in
the caller's transaction; the last two feed the recruiters' follow-up queue."""

from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from ..evidence import service as evidence
from ..kit.clock import clock
from ..kit.errors import Conflict, NotFound, invalid
from ..kit.ids import new_secret, sha256_hex
from ..recruiting import scheduling
from ..recruiting.models import Interview
from . import vendor
from .followups import open_follow_up
from .models import FollowUp, PortalHit

CANDIDATE = "candidate"  # the evidence actor of everything done through the portal
WINDOW = timedelta(minutes=1)
PER_TOKEN = 30  # requests per WINDOW for one link: far above what a person clicks
PER_ADDRESS = 120  # per client address: candidates may share one (a factory's Wi-Fi)
KEEP_HITS = timedelta(minutes=10)
START_EARLY = timedelta(minutes=15)  # "start" works this long before the window opens
MAX_TEXT = 2000
GONE = ("cancelled", "rescheduled")  # the link is dead: the interview no longer exists as such


# --- rate limiting --------------------------------------------------------------------


async def throttle(session: AsyncSession, address: str, token_hash: str) -> int | None:
    """Count this request; seconds to wait when over a limit (then it is not counted).

    Rows in the tenant's schema, like login failures in the public one: every process and
    machine sees the same counts, with no Redis required."""
    now = clock.now()
    h = PortalHit
    q = select(
        func.count().filter(h.token_hash == token_hash),
        func.count().filter(h.address == address),
        func.min(h.at).filter(h.token_hash == token_hash),
        func.min(h.at).filter(h.address == address),
    ).where(h.at > now - WINDOW, (h.token_hash == token_hash) | (h.address == address))
    by_token, by_address, first_token, first_address = (await session.execute(q)).one()
    for count, limit, first in (
        (by_token, PER_TOKEN, first_token),
        (by_address, PER_ADDRESS, first_address),
    ):
        if count >= limit:
            return max(int((first + WINDOW - now).total_seconds()) + 1, 1)
    session.add(PortalHit(address=address[:64], token_hash=token_hash, at=now))
    if random.random() < 0.02:  # old rows go now and then; the index keeps counting cheap
        await session.execute(delete(PortalHit).where(PortalHit.at < now - KEEP_HITS))
    return None


# --- the link -------------------------------------------------------------------------


async def interview_by_secret(session: AsyncSession, secret: str) -> Interview | None:
    return (
        await session.execute(
            select(Interview).where(Interview.link_token_hash == sha256_hex(secret))
        )
    ).scalar_one_or_none()


def link_problem(interview: Interview) -> str | None:
    """Why the link no longer opens the interview: "expired", "cancelled", "rescheduled"."""
    if interview.state in GONE:
        return interview.state
    if clock.now() > interview.link_expires_at:
        return "expired"
    return None


def can_start(interview: Interview) -> str | None:
    """None when the candidate may start now; else why not ("early", "closed", "live",
    or the state)."""
    if interview.kind != "ai_async":
        return "live"
    if interview.state not in ("scheduled", "confirmed", "started"):
        return interview.state
    now = clock.now()
    if now < interview.opens_at - START_EARLY:
        return "early"
    if now > interview.closes_at:
        return "closed"
    return None


# --- the candidate's actions ----------------------------------------------------------


def _on(interview: Interview, **data) -> dict:
    return {"interview_state": interview.state, **data}


async def record_visit(
    session: AsyncSession, interview: Interview, address: str, user_agent: str
) -> None:
    await evidence.record(
        session,
        "portal.visited",
        _on(interview, address=address, user_agent=user_agent[:200]),
        actor=CANDIDATE,
        candidate_id=interview.candidate_id,
        interview_id=interview.id,
    )


async def confirm(session: AsyncSession, interview: Interview, address: str) -> bool:
    """The candidate will attend. True if the state changed (a second click changes nothing)."""
    if interview.state not in ("scheduled", "confirmed"):
        raise Conflict(f"the interview is {interview.state}; there is nothing to confirm", "state")
    changed = interview.state == "scheduled"
    await evidence.record(
        session,
        "portal.confirmed",
        _on(interview, address=address, changed=changed),
        actor=CANDIDATE,
        candidate_id=interview.candidate_id,
        interview_id=interview.id,
    )
    if changed:
        await scheduling.transition(session, interview, "confirmed", CANDIDATE)
    return changed


async def start(session: AsyncSession, interview: Interview, address: str, locale: str) -> str:
    """Hand the candidate over to the AI-interview vendor: the URL to send them to.

    The interview becomes `started` only when the vendor reports it: a click is not an
    interview (the vendor's page may fail to load, the candidate may turn back), and the
    no-show rule must rest on what happened. The click itself is evidence."""
    why = can_start(interview)
    if why is not None:
        raise Conflict(f"the interview cannot start now ({why})", "state")
    settings = await vendor.get_settings(session)
    if settings is None:
        raise NotFound("no interview vendor is set up for this employer", "vendor")
    if interview.vendor_ref is None:  # the vendor's handle on this interview; not our id
        interview.vendor_ref = new_secret(16)
    url = vendor.start_url(settings.start_url_template, interview, locale)
    await evidence.record(
        session,
        "portal.started",
        _on(interview, address=address, vendor_host=vendor.host_of(url)),
        actor=CANDIDATE,
        candidate_id=interview.candidate_id,
        interview_id=interview.id,
    )
    await session.flush()
    return url


def _text(value: str, field: str, required: bool) -> str:
    text = (value or "").strip()
    if required and not text:
        raise invalid(field, "please describe the problem", "required")
    if len(text) > MAX_TEXT:
        raise invalid(field, f"at most {MAX_TEXT} characters", "too_long")
    return text


async def request_reschedule(
    session: AsyncSession, interview: Interview, note: str, address: str
) -> FollowUp:
    """The candidate asks for another time: a follow-up for a recruiter; no state change."""
    text = _text(note, "note", required=False)
    if interview.state == "completed":
        raise Conflict("the interview is already completed", "state")
    await evidence.record(
        session,
        "portal.reschedule_requested",
        _on(interview, address=address, note=text),
        actor=CANDIDATE,
        candidate_id=interview.candidate_id,
        interview_id=interview.id,
    )
    return await open_follow_up(session, interview, "reschedule_request", False, text)


async def report_problem(
    session: AsyncSession, interview: Interview, description: str, address: str
) -> FollowUp:
    """A technical problem: an urgent follow-up, so a person answers while there is time."""
    text = _text(description, "description", required=True)
    await evidence.record(
        session,
        "portal.problem_reported",
        _on(interview, address=address, description=text),
        actor=CANDIDATE,
        candidate_id=interview.candidate_id,
        interview_id=interview.id,
    )
    return await open_follow_up(session, interview, "technical_problem", True, text)
