"""Per-request loaders: a parent resolver hands them its page of rows and the paths the query
selects below, and they fetch each requested relation for the whole page in one query, however
deep the query nests. So a page costs a fixed number of statements, whatever its size."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable

from sqlalchemy import Uuid, any_, bindparam, select
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession

from ...auth.permissions import Perm, Role, permissions_for
from ...auth.principal import Principal
from ...crypto.fields import TenantCipher
from ...delivery import preference
from ...delivery.models import Notification
from ...portal import tokens as portal_tokens
from ..models import (
    Application,
    Candidate,
    Interview,
    Interviewer,
    Job,
    Slot,
    StageChange,
)
from ..scheduling import link_token
from ..service import CONTACT_COLUMNS
from .types import (
    ApplicationType,
    CandidateType,
    ChannelConsentType,
    ChannelScoreType,
    InterviewerType,
    InterviewType,
    JobType,
    NotificationType,
    SlotType,
    StageChangeType,
    gid,
)


def among(column, ids: Iterable[uuid.UUID]):
    """`column = ANY($1)` with one uuid[] parameter: one SQL text (one prepared statement)
    whatever the number of ids, where IN (...) would make a new one per size."""
    return column == any_(bindparam(None, list(ids), type_=ARRAY(Uuid)))


def sub(paths: frozenset[str], name: str) -> frozenset[str]:
    """The paths below `name`, relative to it."""
    prefix = name + "."
    return frozenset(p[len(prefix) :] for p in paths if p.startswith(prefix))


class Loaders:
    def __init__(
        self,
        session: AsyncSession,
        cipher: TenantCipher,
        principal: Principal,
        own_interviewer: uuid.UUID | None,
        tenant_slug: str = "",
    ) -> None:
        self.session = session
        self.tenant_slug = tenant_slug  # candidate links name their tenant
        self.cipher = cipher
        self.principal = principal
        # Set when the caller may see only the interviews assigned to them, and (when
        # nothing but the interviewer role lets them read candidates) only those candidates.
        own_only = principal.can(Perm.INTERVIEWS_READ_OWN) and not principal.can(
            Perm.INTERVIEWS_READ
        )
        self.only_interviewer = (own_interviewer or uuid.UUID(int=0)) if own_only else None
        others = permissions_for(principal.roles - {Role.INTERVIEWER.value}, principal.scopes)
        self.candidates_of_interviewer = (
            self.only_interviewer if Perm.CANDIDATES_READ not in others else None
        )
        self._jobs: dict[uuid.UUID, Job] = {}
        self._interviewers: dict[uuid.UUID, Interviewer] = {}
        self._candidates: dict[uuid.UUID, Candidate] = {}
        self._slots: dict[uuid.UUID, Slot] = {}

    async def _fetch(self, model, cache: dict, ids: Iterable[uuid.UUID | None]) -> dict:
        missing = {i for i in ids if i is not None and i not in cache}
        if missing:
            rows = await self.session.execute(
                select(model.__table__).where(among(model.id, missing))
            )
            for r in rows:
                cache[r.id] = r
        return cache

    # --- jobs, interviewers, slots ---------------------------------------------------

    async def jobs(self, rows: list[Job], paths: frozenset[str] = frozenset()) -> list[JobType]:
        return [
            JobType(
                id=gid("Job", j.id),
                pk=j.id,
                title=j.title,
                department=j.department,
                location=j.location,
                family=j.family,
                priority=j.priority,
                required_qualifications=list(j.required_qualifications),
                status=j.status,
                created_at=j.created_at,
                updated_at=j.updated_at,
            )
            for j in rows
        ]

    async def jobs_by_id(self, ids: Iterable[uuid.UUID | None]) -> dict[uuid.UUID, JobType]:
        cache = await self._fetch(Job, self._jobs, ids)
        return {j.pk: j for j in await self.jobs([cache[i] for i in set(ids) if i in cache])}

    async def interviewers(self, rows: list[Interviewer]) -> list[InterviewerType]:
        return [
            InterviewerType(
                id=gid("Interviewer", i.id),
                pk=i.id,
                name=i.name,
                email=i.email,
                time_zone=i.time_zone,
            )
            for i in rows
        ]

    async def interviewers_by_id(self, ids) -> dict[uuid.UUID, InterviewerType]:
        cache = await self._fetch(Interviewer, self._interviewers, ids)
        found = [cache[i] for i in set(ids) if i in cache]
        return {t.pk: t for t in await self.interviewers(found)}

    async def slots(self, rows: list[Slot], paths: frozenset[str]) -> list[SlotType]:
        people = (
            await self.interviewers_by_id([s.interviewer_id for s in rows])
            if ("interviewer" in paths)
            else {}
        )
        return [
            SlotType(
                id=gid("Slot", s.id),
                pk=s.id,
                starts_at=s.starts_at,
                ends_at=s.ends_at,
                capacity=s.capacity,
                booked=s.booked,
                location=s.location,
                interviewer=people.get(s.interviewer_id),
            )
            for s in rows
        ]

    # --- candidates ------------------------------------------------------------------

    async def candidates(self, rows: list[Candidate], paths: frozenset[str]) -> list[CandidateType]:
        ids = [c.id for c in rows]
        apps: dict[uuid.UUID, list[ApplicationType]] = defaultdict(list)
        if "applications" in paths and ids:
            found = (
                await self.session.execute(
                    select(Application.__table__)
                    .where(among(Application.candidate_id, ids))
                    .order_by(Application.created_at, Application.id)
                )
            ).all()
            for a in await self.applications(found, sub(paths, "applications")):
                apps[a.candidate_pk].append(a)
        interviews: dict[uuid.UUID, list[InterviewType]] = defaultdict(list)
        if "interviews" in paths and ids:
            stmt = select(Interview.__table__).where(among(Interview.candidate_id, ids))
            if self.only_interviewer:
                stmt = stmt.where(Interview.interviewer_id == self.only_interviewer)
            found = (
                await self.session.execute(stmt.order_by(Interview.opens_at, Interview.id))
            ).all()
            for i in await self.interviews(found, sub(paths, "interviews")):
                interviews[i.candidate_pk].append(i)
        prefs = {}
        if "channelPreference" in paths and ids:
            prefs = await preference.scores(self.session, ids)
        contacts = [
            (name, col) for name, col in CONTACT_COLUMNS.items() if _field_name(name) in paths
        ]
        out = []
        for c in rows:
            self._candidates[c.id] = c
            values = {
                name: self.cipher.decrypt(getattr(c, col), "candidates", col, c.id)
                for name, col in contacts
            }
            out.append(
                CandidateType(
                    id=gid("Candidate", c.id),
                    pk=c.id,
                    name=c.name,
                    phone=values.get("phone"),
                    email=values.get("email"),
                    wechat_open_id=values.get("wechat_open_id"),
                    push_token=values.get("push_token"),
                    id_number=values.get("id_number"),
                    notes=values.get("notes"),
                    time_zone=c.time_zone,
                    locale=c.locale,
                    consent=[
                        ChannelConsentType(channel=k, granted=bool(v))
                        for k, v in sorted(c.consent.items())
                    ],
                    tags=list(c.tags),
                    source=c.source,
                    created_at=c.created_at,
                    applications=apps.get(c.id, []) if "applications" in paths else None,
                    interviews=interviews.get(c.id, []) if "interviews" in paths else None,
                    channel_preference=[ChannelScoreType(**vars(x)) for x in prefs[c.id]]
                    if c.id in prefs
                    else None,
                )
            )
        return out

    async def candidates_by_id(self, ids, paths: frozenset[str]) -> dict[uuid.UUID, CandidateType]:
        cache = await self._fetch(Candidate, self._candidates, ids)
        rows = [cache[i] for i in set(ids) if i in cache]
        return {c.pk: c for c in await self.candidates(rows, paths)}

    # --- applications ----------------------------------------------------------------

    async def applications(
        self, rows: list[Application], paths: frozenset[str]
    ) -> list[ApplicationType]:
        jobs = await self.jobs_by_id([a.job_id for a in rows]) if "job" in paths else {}
        people = (
            await self.candidates_by_id([a.candidate_id for a in rows], sub(paths, "candidate"))
            if ("candidate" in paths)
            else {}
        )
        history: dict[uuid.UUID, list[StageChangeType]] = defaultdict(list)
        if "history" in paths and rows:
            changes = await self.session.execute(
                select(StageChange.__table__)
                .where(among(StageChange.application_id, [a.id for a in rows]))
                .order_by(StageChange.id)
            )
            for ch in changes:
                history[ch.application_id].append(
                    StageChangeType(
                        from_stage=ch.from_stage, to_stage=ch.to_stage, at=ch.at, actor=ch.actor
                    )
                )
        out = []
        for a in rows:
            out.append(
                ApplicationType(
                    id=gid("Application", a.id),
                    pk=a.id,
                    candidate_pk=a.candidate_id,
                    stage=a.stage,
                    match_score=a.match_score,
                    created_at=a.created_at,
                    job=jobs.get(a.job_id),
                    candidate=people.get(a.candidate_id),
                    history=history.get(a.id, []) if "history" in paths else None,
                )
            )
        return out

    # --- interviews ------------------------------------------------------------------

    async def interviews(self, rows: list[Interview], paths: frozenset[str]) -> list[InterviewType]:
        people = (
            await self.interviewers_by_id([i.interviewer_id for i in rows])
            if ("interviewer" in paths)
            else {}
        )
        jobs = await self.jobs_by_id([i.job_id for i in rows]) if "job" in paths else {}
        cands = (
            await self.candidates_by_id([i.candidate_id for i in rows], sub(paths, "candidate"))
            if ("candidate" in paths)
            else {}
        )
        slots = {}
        if "slot" in paths:
            cache = await self._fetch(Slot, self._slots, [i.slot_id for i in rows])
            found = [cache[s] for s in {i.slot_id for i in rows} if s in cache]
            slots = {s.pk: s for s in await self.slots(found, sub(paths, "slot"))}
        notes: dict[uuid.UUID, list[NotificationType]] = defaultdict(list)
        if "notifications" in paths and rows:
            found = await self.session.execute(
                select(Notification.__table__)
                .where(among(Notification.interview_id, [i.id for i in rows]))
                .order_by(Notification.due_at, Notification.channel)
            )
            for n in found:
                notes[n.interview_id].append(
                    NotificationType(
                        channel=n.channel,
                        kind=n.kind,
                        status=n.status,
                        due_at=n.due_at,
                        attempts=n.attempts,
                        last_error=n.last_error,
                        sent_at=n.sent_at,
                        delivered_at=n.delivered_at,
                        opened_at=n.opened_at,
                    )
                )
        link = "candidateLink" in paths and self.principal.can(Perm.INTERVIEWS_WRITE)
        out = []
        for i in rows:
            out.append(
                InterviewType(
                    id=gid("Interview", i.id),
                    pk=i.id,
                    candidate_pk=i.candidate_id,
                    kind=i.kind,
                    state=i.state,
                    opens_at=i.opens_at,
                    closes_at=i.closes_at,
                    attempt=i.attempt,
                    vendor_ref=i.vendor_ref,
                    cancel_reason=i.cancel_reason,
                    link_expires_at=i.link_expires_at,
                    candidate_link=(
                        portal_tokens.path(self.tenant_slug, link_token(self.cipher, i))
                        if link
                        else None
                    ),
                    interviewer=people.get(i.interviewer_id),
                    job=jobs.get(i.job_id),
                    candidate=cands.get(i.candidate_id),
                    slot=slots.get(i.slot_id),
                    notifications=notes.get(i.id, []) if "notifications" in paths else None,
                )
            )
        return out


def _field_name(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(w.title() for w in rest)
