"""Jobs, candidates (encrypted contacts, duplicates by keyed hash), applications, CSV import."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from ..crypto.fields import TenantCipher
from ..evidence import service as evidence
from ..kit.clock import clock
from ..kit.errors import Conflict, FieldProblem, InvalidInput, NotFound, invalid
from ..kit.pagination import decode_cursor, encode_cursor, page_size
from ..kit.timezones import valid_time_zone
from .models import (
    CHANNELS,
    JOB_STATUSES,
    PRIORITIES,
    STAGES,
    Application,
    Candidate,
    Interview,
    Job,
    StageChange,
)

LOCALES = ("en", "zh-CN")
SOURCE_LENGTH = 80  # candidates.source
PHONE_RE = re.compile(r"^\+?[0-9]{6,15}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
CONTACT_COLUMNS = {
    "phone": "phone_enc",
    "email": "email_enc",
    "wechat_open_id": "wechat_openid_enc",
    "push_token": "push_token_enc",
    "id_number": "id_number_enc",
    "notes": "notes_enc",
}


class DuplicateCandidate(Conflict):
    def __init__(self, message: str, field: str, ids: list[uuid.UUID]) -> None:
        super().__init__(message, field)
        self.ids = ids


def parse_uuid(value: str, field: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise invalid(field, "is not an id of this API") from None


# --- jobs ----------------------------------------------------------------------------


@dataclass
class JobFields:
    title: str | None = None
    department: str | None = None
    location: str | None = None
    family: str | None = None
    priority: str | None = None
    required_qualifications: list[str] | None = None
    status: str | None = None


def _check_job(f: JobFields, creating: bool) -> list[FieldProblem]:
    p = []
    if creating and not f.title:
        p.append(FieldProblem("title", "is required"))
    if f.title is not None and not 1 <= len(f.title.strip()) <= 200:
        p.append(FieldProblem("title", "must be 1-200 characters"))
    if f.priority is not None and f.priority not in PRIORITIES:
        p.append(FieldProblem("priority", f"must be one of {', '.join(PRIORITIES)}"))
    if f.status is not None and f.status not in JOB_STATUSES:
        p.append(FieldProblem("status", f"must be one of {', '.join(JOB_STATUSES)}"))
    for name in ("department", "location", "family"):
        v = getattr(f, name)
        if v is not None and len(v) > 200:
            p.append(FieldProblem(name, "must be at most 200 characters"))
    return p


async def create_job(session: AsyncSession, f: JobFields) -> Job:
    problems = _check_job(f, creating=True)
    if problems:
        raise InvalidInput(problems=problems)
    job = Job(
        id=uuid.uuid4(),
        title=f.title.strip(),
        department=f.department or "",
        location=f.location or "",
        family=f.family or "",
        priority=f.priority or "normal",
        required_qualifications=f.required_qualifications or [],
        status=f.status or "draft",
    )
    session.add(job)
    await session.flush()
    return job


async def update_job(session: AsyncSession, job_id: uuid.UUID, f: JobFields) -> Job:
    problems = _check_job(f, creating=False)
    if problems:
        raise InvalidInput(problems=problems)
    job = await get_job(session, job_id)
    for name, value in vars(f).items():
        if value is not None:
            setattr(job, name, value.strip() if name == "title" else value)
    await session.flush()
    await session.refresh(job)  # updated_at comes from the database
    return job


async def get_job(session: AsyncSession, job_id: uuid.UUID, field: str = "id") -> Job:
    job = await session.get(Job, job_id)
    if job is None:
        raise NotFound("no such job", field)
    return job


@dataclass
class Page:
    rows: list[Any]
    has_next: bool
    total: int | None
    sort_key: str = "created_at"

    def cursor(self, row: Any) -> str:
        return encode_cursor(getattr(row, self.sort_key).isoformat(), row.id)


async def paginate(
    session: AsyncSession,
    stmt: Select,
    model: Any,
    first: int | None,
    after: str | None,
    want_total: bool,
    order=None,
) -> Page:
    """Keyset pagination on (created_at, id), or on another (timestamp column, id) pair."""
    n = page_size(first)
    a, b = order or (model.created_at, model.id)
    base = stmt
    if after:
        at, rid = decode_cursor(after, 2)
        try:
            stmt = stmt.where(tuple_(a, b) > tuple_(datetime.fromisoformat(at), uuid.UUID(rid)))
        except ValueError as exc:
            raise invalid("after", "not a cursor this API issued") from exc
    rows = list((await session.execute(stmt.order_by(a, b).limit(n + 1))).all())
    total = None
    if want_total:
        total = int(await session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    return Page(rows[:n], len(rows) > n, total, a.key)


def jobs_query(
    status: str | None = None,
    priority: str | None = None,
    family: str | None = None,
    search: str | None = None,
) -> Select:
    stmt = select(Job.__table__)
    if status:
        stmt = stmt.where(Job.status == status)
    if priority:
        stmt = stmt.where(Job.priority == priority)
    if family:
        stmt = stmt.where(Job.family == family)
    if search:
        stmt = stmt.where(func.lower(Job.title).contains(search.lower()))
    return stmt


# --- candidates ----------------------------------------------------------------------


def normalize_phone(raw: str) -> str:
    return re.sub(r"[\s\-().]", "", raw)


def normalize_email(raw: str) -> str:
    return raw.strip().lower()


@dataclass
class CandidateFields:
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    wechat_open_id: str | None = None
    push_token: str | None = None
    id_number: str | None = None
    notes: str | None = None
    time_zone: str | None = None
    locale: str | None = None
    consent: dict[str, bool] | None = None
    tags: list[str] | None = None
    source: str | None = None


def check_candidate(f: CandidateFields, creating: bool, prefix: str = "") -> CandidateFields:
    """Validated and normalized copy, or InvalidInput naming every bad field."""
    p: list[FieldProblem] = []
    out = CandidateFields(**vars(f))
    if creating and not f.name:
        p.append(FieldProblem(f"{prefix}name", "is required"))
    if f.name is not None:
        out.name = f.name.strip()
        if not 1 <= len(out.name) <= 200:
            p.append(FieldProblem(f"{prefix}name", "must be 1-200 characters"))
    if f.phone:
        out.phone = normalize_phone(f.phone)
        if not PHONE_RE.match(out.phone):
            p.append(FieldProblem(f"{prefix}phone", "is not a phone number (6-15 digits)"))
    if f.email:
        out.email = normalize_email(f.email)
        if not EMAIL_RE.match(out.email) or len(out.email) > 254:
            p.append(FieldProblem(f"{prefix}email", "is not an email address"))
    if creating and not (out.phone or out.email or f.wechat_open_id or f.push_token):
        p.append(
            FieldProblem(
                f"{prefix}phone",
                "a candidate needs at least one way to be "
                "reached: phone, email, WeChat or app push",
            )
        )
    if f.time_zone is not None and not valid_time_zone(f.time_zone):
        p.append(FieldProblem(f"{prefix}timeZone", f"unknown time zone {f.time_zone!r}"))
    if f.locale is not None and f.locale not in LOCALES:
        p.append(FieldProblem(f"{prefix}locale", f"must be one of {', '.join(LOCALES)}"))
    for ch in f.consent or {}:
        if ch not in CHANNELS:
            p.append(
                FieldProblem(
                    f"{prefix}consent", f"unknown channel {ch!r}; channels: {', '.join(CHANNELS)}"
                )
            )
    if f.tags is not None:
        out.tags = sorted({t.strip() for t in f.tags if t.strip()})
        if len(out.tags) > 30 or any(len(t) > 60 for t in out.tags):
            p.append(FieldProblem(f"{prefix}tags", "at most 30 tags of at most 60 characters"))
    if f.notes is not None and len(f.notes) > 10_000:
        p.append(FieldProblem(f"{prefix}notes", "must be at most 10000 characters"))
    if f.source is not None and len(f.source) > SOURCE_LENGTH:
        p.append(FieldProblem(f"{prefix}source", f"must be at most {SOURCE_LENGTH} characters"))
    # PostgreSQL text refuses NUL; the encrypted fields are bytes and take anything.
    for name in ("name", "source"):
        if "\x00" in (getattr(f, name) or ""):
            p.append(FieldProblem(f"{prefix}{name}", "contains a NUL character"))
    if any("\x00" in t for t in f.tags or ()):
        p.append(FieldProblem(f"{prefix}tags", "contains a NUL character"))
    if p:
        raise InvalidInput(problems=p)
    return out


def apply_fields(c: Candidate, f: CandidateFields, cipher: TenantCipher) -> None:
    for name in ("name", "time_zone", "locale", "consent", "tags", "source"):
        value = getattr(f, name)
        if value is not None:
            setattr(c, name, value)
    for name, column in CONTACT_COLUMNS.items():
        value = getattr(f, name)
        if value is not None:
            setattr(
                c,
                column,
                cipher.encrypt(value or None, "candidates", column, c.id) if value else None,
            )
    if f.phone is not None:
        c.phone_hash = cipher.blind_index("phone", f.phone or None)
    if f.email is not None:
        c.email_hash = cipher.blind_index("email", f.email or None)


async def find_duplicates(
    session: AsyncSession,
    cipher: TenantCipher,
    phone: str | None,
    email: str | None,
    exclude: uuid.UUID | None = None,
) -> list[uuid.UUID]:
    conds = []
    if phone:
        conds.append(Candidate.phone_hash == cipher.blind_index("phone", phone))
    if email:
        conds.append(Candidate.email_hash == cipher.blind_index("email", email))
    if not conds:
        return []
    stmt = select(Candidate.id).where(or_(*conds))
    if exclude:
        stmt = stmt.where(Candidate.id != exclude)
    return list((await session.execute(stmt.order_by(Candidate.id))).scalars())


def changed_fields(f: CandidateFields) -> list[str]:
    """The names of the fields given (never their values: the trail is not a copy of the
    candidate's contact details)."""
    return sorted(k for k, v in vars(f).items() if v is not None)


async def create_candidate(
    session: AsyncSession,
    cipher: TenantCipher,
    f: CandidateFields,
    allow_duplicate: bool = False,
    actor: str = "system",
) -> Candidate:
    f = check_candidate(f, creating=True)
    dupes = await find_duplicates(session, cipher, f.phone, f.email)
    if dupes and not allow_duplicate:
        raise DuplicateCandidate(
            f"{len(dupes)} candidate(s) already have this phone or email; pass "
            "allowDuplicate to create another anyway",
            "phone" if f.phone else "email",
            dupes,
        )
    c = Candidate(id=uuid.uuid4(), time_zone="UTC", locale="en", consent={}, tags=[], source="")
    apply_fields(c, f, cipher)
    session.add(c)
    await session.flush()
    await evidence.record(
        session,
        "candidate.created",
        {"fields": changed_fields(f), "consent": dict(c.consent or {})},
        actor=evidence.as_actor(actor),
        candidate_id=c.id,
    )
    return c


async def update_candidate(
    session: AsyncSession,
    cipher: TenantCipher,
    cid: uuid.UUID,
    f: CandidateFields,
    allow_duplicate: bool = False,
    actor: str = "system",
) -> Candidate:
    f = check_candidate(f, creating=False)
    c = await get_candidate(session, cid)
    dupes = await find_duplicates(session, cipher, f.phone, f.email, exclude=cid)
    if dupes and not allow_duplicate:
        raise DuplicateCandidate(
            "another candidate already has this phone or email",
            "phone" if f.phone else "email",
            dupes,
        )
    apply_fields(c, f, cipher)
    await session.flush()
    await session.refresh(c)
    data: dict = {"fields": changed_fields(f)}
    if f.consent is not None:  # what the candidate agreed to be contacted on matters later
        data["consent"] = dict(c.consent or {})
    await evidence.record(
        session, "candidate.updated", data, actor=evidence.as_actor(actor), candidate_id=c.id
    )
    return c


async def get_candidate(session: AsyncSession, cid: uuid.UUID, field: str = "id") -> Candidate:
    c = await session.get(Candidate, cid)
    if c is None:
        raise NotFound("no such candidate", field)
    return c


def candidates_query(
    cipher: TenantCipher,
    stage: str | None = None,
    job_id: uuid.UUID | None = None,
    tag: str | None = None,
    search: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    interviewer_id: uuid.UUID | None = None,
) -> Select:
    stmt = select(Candidate.__table__)
    if stage or job_id:
        conds = [Application.candidate_id == Candidate.id]
        if stage:
            if stage not in STAGES:
                raise invalid("filter.stage", f"must be one of {', '.join(STAGES)}")
            conds.append(Application.stage == stage)
        if job_id:
            conds.append(Application.job_id == job_id)
        stmt = stmt.where(select(Application.id).where(and_(*conds)).exists())
    if interviewer_id:  # an interviewer sees only the candidates they interview
        stmt = stmt.where(
            select(Interview.id)
            .where(
                Interview.candidate_id == Candidate.id, Interview.interviewer_id == interviewer_id
            )
            .exists()
        )
    if tag:
        stmt = stmt.where(Candidate.tags.contains([tag]))
    if created_from:
        stmt = stmt.where(Candidate.created_at >= created_from)
    if created_to:
        stmt = stmt.where(Candidate.created_at < created_to)
    if search:
        s = search.strip()
        conds = [func.lower(Candidate.name).contains(s.lower())]
        if PHONE_RE.match(normalize_phone(s)):
            conds.append(Candidate.phone_hash == cipher.blind_index("phone", normalize_phone(s)))
        if EMAIL_RE.match(s):
            conds.append(Candidate.email_hash == cipher.blind_index("email", normalize_email(s)))
        stmt = stmt.where(or_(*conds))
    return stmt


# --- applications --------------------------------------------------------------------


async def record_stage(session: AsyncSession, app: Application, to: str, actor: str) -> None:
    if to not in STAGES:
        raise invalid("stage", f"must be one of {', '.join(STAGES)}")
    session.add(
        StageChange(
            application_id=app.id, from_stage=app.stage, to_stage=to, at=clock.now(), actor=actor
        )
    )
    await evidence.record(
        session,
        "application.stage_changed",
        {"application_id": str(app.id), "job_id": str(app.job_id), "from": app.stage, "to": to},
        actor=evidence.as_actor(actor),
        candidate_id=app.candidate_id,
    )
    app.stage = to


async def apply(
    session: AsyncSession, candidate_id: uuid.UUID, job_id: uuid.UUID, match_score: int, actor: str
) -> Application:
    if not 0 <= match_score <= 100:
        raise invalid("matchScore", "must be between 0 and 100")
    await get_candidate(session, candidate_id, "candidateId")
    job = await get_job(session, job_id, "jobId")
    if job.status != "open":
        raise invalid(
            "jobId", f"job is {job.status}; candidates apply to open jobs", "job_not_open"
        )
    existing = await session.scalar(
        select(Application.id).where(
            Application.candidate_id == candidate_id, Application.job_id == job_id
        )
    )
    if existing:
        raise Conflict("the candidate already applied to this job", "jobId")
    app = Application(
        id=uuid.uuid4(),
        candidate_id=candidate_id,
        job_id=job_id,
        stage="applied",
        match_score=match_score,
    )
    session.add(app)
    await session.flush()
    session.add(
        StageChange(
            application_id=app.id, from_stage=None, to_stage="applied", at=clock.now(), actor=actor
        )
    )
    await session.flush()
    return app


async def move_application(
    session: AsyncSession, app_id: uuid.UUID, stage: str, actor: str
) -> Application:
    app = await session.get(Application, app_id)
    if app is None:
        raise NotFound("no such application", "applicationId")
    await record_stage(session, app, stage, actor)
    await session.flush()
    return app
