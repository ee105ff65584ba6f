"""The tenant's AI-interview vendor: where "start" sends the candidate, and the events the
vendor reports back (started, completed, abandoned), each applied once."""

from __future__ import annotations

import base64
import string
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlparse

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.fields import TenantCipher
from ..evidence import service as evidence
from ..kit.errors import Conflict, FieldProblem, InvalidInput, NotFound
from ..kit.ids import global_id
from ..kit.urls import private_host
from ..recruiting import scheduling
from ..recruiting.models import Interview
from .followups import open_follow_up
from .models import VENDOR_EVENT_TYPES, FollowUp, InterviewVendorSettings, VendorEvent

PLACEHOLDERS = ("interview_id", "vendor_ref", "locale")
MIN_SECRET, MAX_SECRET = 16, 200
ACTIVE = ("scheduled", "confirmed")  # before the vendor has said anything


# --- settings -------------------------------------------------------------------------


def _fields(template: str) -> list[tuple[str, str | None]] | str:
    """(literal, placeholder) pieces, or why the template is not acceptable."""
    try:
        pieces = list(string.Formatter().parse(template))
    except ValueError as exc:
        return f"not a valid template: {exc}"
    for _, name, spec, conv in pieces:
        if name is not None and (name not in PLACEHOLDERS or spec or conv):
            return f"unknown placeholder {{{name}}}; placeholders: " + ", ".join(
                f"{{{p}}}" for p in PLACEHOLDERS
            )
    return [(lit, name) for lit, name, _, _ in pieces]


def render(template: str, values: dict[str, str]) -> str:
    pieces = _fields(template)
    if isinstance(pieces, str):
        raise ValueError(pieces)
    return "".join(lit + (quote(values[n], safe="") if n else "") for lit, n in pieces)


def check_template(template: str, allow_internal: bool) -> list[FieldProblem]:
    f = "startUrlTemplate"
    if not template or len(template) > 2000:
        return [FieldProblem(f, "must be 1-2000 characters")]
    pieces = _fields(template)
    if isinstance(pieces, str):
        return [FieldProblem(f, pieces, "placeholder")]
    sample = render(template, {p: "x" for p in PLACEHOLDERS})
    parts = urlparse(sample)
    host_part = urlparse(template.replace("{", "%7B")).netloc
    schemes = ("https", "http") if allow_internal else ("https",)
    if parts.scheme not in schemes or not parts.netloc:
        need = "an https (or, in development, http)" if allow_internal else "an https"
        return [FieldProblem(f, f"must be {need} URL")]
    if "%7B" in host_part:
        return [FieldProblem(f, "placeholders belong in the path or query, not the host")]
    if not allow_internal and (bad := private_host(sample)):
        inside = f"points inside the platform's network ({bad})"
        return [FieldProblem(f, inside, "internal_address")]
    return []


def check_secret(secret: str) -> list[FieldProblem]:
    if not MIN_SECRET <= len(secret) <= MAX_SECRET:
        return [FieldProblem("webhookSecret", f"must be {MIN_SECRET}-{MAX_SECRET} characters")]
    if not secret.isascii() or not secret.isprintable() or any(c.isspace() for c in secret):
        return [FieldProblem("webhookSecret", "printable ASCII without spaces")]
    return []


async def get_settings(session: AsyncSession) -> InterviewVendorSettings | None:
    return await session.get(InterviewVendorSettings, 1)


async def set_settings(
    session: AsyncSession,
    cipher: TenantCipher,
    start_url_template: str,
    webhook_secret: str | None,
    actor: str,
    allow_internal: bool = False,
) -> InterviewVendorSettings:
    """webhook_secret None keeps the current one (required the first time)."""
    row = await session.get(InterviewVendorSettings, 1, with_for_update=True)
    template = start_url_template.strip()
    p = check_template(template, allow_internal)
    if webhook_secret is not None:
        p += check_secret(webhook_secret)
    elif row is None:
        p.append(FieldProblem("webhookSecret", "required the first time", "required"))
    if p:
        raise InvalidInput(problems=p)
    if row is None:
        row = InterviewVendorSettings(id=1)
        session.add(row)
    row.start_url_template, row.updated_by = template, actor[:120]
    if webhook_secret is not None:
        row.secret_enc = cipher.encrypt(
            webhook_secret, "interview_vendor_settings", "secret_enc", 1
        )
    await evidence.record(
        session,
        "interview_vendor.changed",
        {"start_url_template": template, "secret_changed": webhook_secret is not None},
        actor=actor,
    )
    await session.flush()
    return row


def secret_of(cipher: TenantCipher, row: InterviewVendorSettings) -> str:
    return cipher.decrypt(row.secret_enc, "interview_vendor_settings", "secret_enc", 1)


def start_url(template: str, interview: Interview, locale: str) -> str:
    return render(
        template,
        {
            "interview_id": global_id("Interview", interview.id),
            "vendor_ref": interview.vendor_ref or "",
            "locale": locale,
        },
    )


def host_of(url: str) -> str:
    return urlparse(url).hostname or ""


# --- events ---------------------------------------------------------------------------


@dataclass
class VendorEventIn:
    event_id: str
    type: str
    occurred_at: datetime
    interview_id: uuid.UUID | None = None
    vendor_ref: str | None = None
    payload: dict = field(default_factory=dict)


def _interview_pk(value: str) -> uuid.UUID:
    """Our API's global id (what the start URL carries) or a bare UUID."""
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    try:
        kind, raw = base64.urlsafe_b64decode(value.encode()).decode().split(":", 1)
        if kind == "Interview":
            return uuid.UUID(raw)
    except (ValueError, UnicodeDecodeError):
        pass
    raise ValueError(value)


NUL = "\x00"


def _nul_problems(data: Any) -> list[FieldProblem]:
    """Where NUL characters hide in the event (PostgreSQL's jsonb cannot store them): a
    string's path (details.steps[1]), or the object whose key holds one. Iterative: a
    deeply nested body must not exhaust the stack."""
    p: list[FieldProblem] = []
    todo: list[tuple[str, Any]] = [("", data)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, str):
            if NUL in value:
                p.append(FieldProblem(path, "must not contain NUL characters (\\u0000)"))
        elif isinstance(value, dict):
            if any(NUL in str(k) for k in value):
                msg = "keys must not contain NUL characters (\\u0000)"
                p.append(FieldProblem(path or "body", msg))
            inner = [(f"{path}.{k}" if path else str(k), v) for k, v in value.items()]
            todo += reversed([(k, v) for k, v in inner if NUL not in k])
        elif isinstance(value, list | tuple):
            todo += reversed([(f"{path}[{i}]", v) for i, v in enumerate(value)])
    return p


def parse_event(data: Any) -> VendorEventIn:
    """The webhook's JSON: {event_id, type, interview_id or vendor_ref, occurred_at}."""
    if not isinstance(data, dict):
        raise InvalidInput(problems=[FieldProblem("body", "expected a JSON object")])
    p = _nul_problems(data)
    if p:  # checked first: the other checks would name them less clearly, or not at all
        raise InvalidInput(problems=p)
    event_id, kind = data.get("event_id"), data.get("type")
    iid, ref, at = data.get("interview_id"), data.get("vendor_ref"), data.get("occurred_at")
    if not isinstance(event_id, str) or not 1 <= len(event_id) <= 200 or not event_id.isprintable():
        p.append(FieldProblem("event_id", "required: 1-200 printable characters"))
    if kind not in VENDOR_EVENT_TYPES:
        p.append(FieldProblem("type", f"must be one of {', '.join(VENDOR_EVENT_TYPES)}"))
    interview_pk = None
    if iid is None and ref is None:
        p.append(FieldProblem("interview_id", "send interview_id or vendor_ref"))
    if iid is not None:
        try:
            interview_pk = _interview_pk(str(iid))
        except ValueError:
            p.append(FieldProblem("interview_id", "not an interview id of this API"))
    if ref is not None and (
        not isinstance(ref, str) or not 1 <= len(ref) <= 200 or not ref.isprintable()
    ):
        p.append(FieldProblem("vendor_ref", "1-200 printable characters"))
    occurred = None
    try:
        occurred = datetime.fromisoformat(at) if isinstance(at, str) else None
    except ValueError:
        pass
    if occurred is None or occurred.tzinfo is None:
        p.append(FieldProblem("occurred_at", "required: an ISO 8601 time with an offset"))
    if p:
        raise InvalidInput(problems=p)
    return VendorEventIn(event_id, kind, occurred, interview_pk, ref, data)


@dataclass
class VendorOutcome:
    duplicate: bool
    changed: bool = False
    interview: Interview | None = None
    follow_up: FollowUp | None = None


async def _find(session: AsyncSession, ev: VendorEventIn) -> Interview:
    if ev.interview_id is not None:
        stmt = select(Interview).where(Interview.id == ev.interview_id)
    else:
        stmt = select(Interview).where(Interview.vendor_ref == ev.vendor_ref)
    found = (
        await session.execute(stmt.with_for_update().execution_options(populate_existing=True))
    ).scalar_one_or_none()
    if found is None:
        raise NotFound("no such interview", "interview_id" if ev.interview_id else "vendor_ref")
    if ev.interview_id is not None and ev.vendor_ref is not None:
        if found.vendor_ref is None:
            taken = await session.scalar(
                select(Interview.id).where(Interview.vendor_ref == ev.vendor_ref)
            )
            if taken is not None:
                raise _ref_taken()
            try:  # another interview may claim it meanwhile: the unique index decides
                async with session.begin_nested():
                    found.vendor_ref = ev.vendor_ref
                    await session.flush()
            except IntegrityError:
                raise _ref_taken() from None
        elif found.vendor_ref != ev.vendor_ref:
            raise Conflict("vendor_ref does not match this interview's", "vendor_ref")
    return found


def _ref_taken() -> Conflict:
    return Conflict("this vendor_ref belongs to another interview", "vendor_ref")


def _illegal(interview: Interview, kind: str) -> Conflict:
    return Conflict(
        f"the interview is {interview.state}: a {kind!r} event cannot apply to it", "type"
    )


async def apply_event(
    session: AsyncSession, ev: VendorEventIn, source: str, actor: str
) -> VendorOutcome:
    """Apply one event in the caller's transaction; the caller rolls back on an error, so
    an illegal event writes nothing (not even its id: a corrected retry can still come).

    started:   scheduled/confirmed -> started; started stays (a resumed session).
    completed: -> completed, through started if that event never came (or comes late).
    abandoned: the candidate began and left: state started (not no-show, they came), and a
               follow-up, so a recruiter decides: another attempt, or no-show.
    Final states (completed, no_show, cancelled, rescheduled) take no event: 409."""
    interview = await _find(session, ev)
    inserted = await session.scalar(
        insert(VendorEvent)
        .values(
            vendor=source[:120],
            event_id=ev.event_id,
            interview_id=interview.id,
            kind=ev.type,
            payload=ev.payload,
        )
        .on_conflict_do_nothing(index_elements=["vendor", "event_id"])
        .returning(VendorEvent.id)
    )
    if inserted is None:
        return VendorOutcome(duplicate=True, interview=interview)
    before = interview.state
    if before not in (*ACTIVE, "started"):
        raise _illegal(interview, ev.type)
    await evidence.record(
        session,
        f"vendor.{ev.type}",
        {
            "event_id": ev.event_id,
            "source": source,
            "vendor_occurred_at": ev.occurred_at.isoformat(),
            "interview_state": before,
        },
        actor=actor,
        candidate_id=interview.candidate_id,
        interview_id=interview.id,
    )
    if before in ACTIVE:
        await scheduling.transition(session, interview, "started", actor)
    follow_up = None
    if ev.type == "completed":
        await scheduling.transition(session, interview, "completed", actor)
    elif ev.type == "abandoned":
        follow_up = await open_follow_up(
            session,
            interview,
            "interview_abandoned",
            False,
            f"The interview vendor reports the candidate left the interview unfinished "
            f"(event {ev.event_id}, {ev.occurred_at.isoformat()}).",
        )
    return VendorOutcome(
        duplicate=False,
        changed=interview.state != before,
        interview=interview,
        follow_up=follow_up,
    )
