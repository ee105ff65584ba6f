"""Recruiting queries: Relay connections with filters, single fetches and `node`."""

from __future__ import annotations

from datetime import datetime

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from ...auth.permissions import Perm
from ...graphql.connection import Connection
from ...graphql.lookahead import selected_paths
from ...graphql.permissions import FieldDenied, any_of, requires
from ...graphql.relay import Node, from_global
from .. import scheduling, service
from ..models import Application, Candidate, Interview, Interviewer, Job, Slot
from .loaders import Loaders, sub
from .scope import scope
from .types import CandidateType, InterviewerType, InterviewType, JobType, SlotType

READ_INTERVIEWS = any_of(Perm.INTERVIEWS_READ, Perm.INTERVIEWS_READ_OWN)


@strawberry.input
class JobFilter:
    status: str | None = None
    priority: str | None = None
    family: str | None = None
    search: str | None = None


@strawberry.input
class CandidateFilter:
    stage: str | None = None
    job_id: strawberry.ID | None = None
    tag: str | None = None
    search: str | None = strawberry.field(default=None, description="Name, phone or email.")
    created_from: datetime | None = None
    created_to: datetime | None = None


@strawberry.input
class InterviewFilter:
    state: str | None = None
    kind: str | None = None
    job_id: strawberry.ID | None = None
    candidate_id: strawberry.ID | None = None
    interviewer_id: strawberry.ID | None = None
    starts_from: datetime | None = None
    starts_to: datetime | None = None


def _pk(gid: str | None, field: str, type_name: str):
    return from_global(gid, field, type_name)[1] if gid else None


def _node_paths(info: Info) -> frozenset[str]:
    return sub(sub(selected_paths(info), "edges"), "node")


async def _page(L: Loaders, stmt, model, first, after, info: Info, build, order=None):
    page = await service.paginate(
        L.session, stmt, model, first, after, "totalCount" in selected_paths(info), order
    )
    nodes = await build(page.rows, _node_paths(info))
    return Connection.of(
        [(page.cursor(r), n) for r, n in zip(page.rows, nodes, strict=True)],
        page.has_next,
        page.total,
    )


async def _visible_candidate(L: Loaders, c: Candidate | None) -> Candidate | None:
    if c is None or L.candidates_of_interviewer is None:
        return c
    mine = await L.session.scalar(
        select(Interview.id)
        .where(
            Interview.candidate_id == c.id,
            Interview.interviewer_id == L.candidates_of_interviewer,
        )
        .limit(1)
    )
    return c if mine else None


@strawberry.type
class RecruitingQuery:
    @strawberry.field(permission_classes=[requires(Perm.JOBS_READ)])
    async def jobs(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: JobFilter | None = None,
    ) -> Connection[JobType]:
        f = filter or JobFilter()
        async with scope(info) as L:
            stmt = service.jobs_query(f.status, f.priority, f.family, f.search)
            return await _page(L, stmt, Job, first, after, info, L.jobs)

    @strawberry.field(permission_classes=[requires(Perm.JOBS_READ)])
    async def job(self, info: Info, id: strawberry.ID) -> JobType | None:
        pk = _pk(id, "id", "Job")
        async with scope(info) as L:
            row = await L.session.get(Job, pk)
            return (await L.jobs([row]))[0] if row else None

    @strawberry.field(permission_classes=[requires(Perm.CANDIDATES_READ)])
    async def candidates(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: CandidateFilter | None = None,
    ) -> Connection[CandidateType]:
        f = filter or CandidateFilter()
        async with scope(info) as L:
            stmt = service.candidates_query(
                L.cipher,
                stage=f.stage,
                job_id=_pk(f.job_id, "filter.jobId", "Job"),
                tag=f.tag,
                search=f.search,
                created_from=f.created_from,
                created_to=f.created_to,
                interviewer_id=L.candidates_of_interviewer,
            )
            return await _page(L, stmt, Candidate, first, after, info, L.candidates)

    @strawberry.field(permission_classes=[requires(Perm.CANDIDATES_READ)])
    async def candidate(self, info: Info, id: strawberry.ID) -> CandidateType | None:
        pk = _pk(id, "id", "Candidate")
        async with scope(info) as L:
            row = await _visible_candidate(L, await L.session.get(Candidate, pk))
            return (await L.candidates([row], selected_paths(info)))[0] if row else None

    @strawberry.field(permission_classes=[READ_INTERVIEWS])
    async def interviews(
        self,
        info: Info,
        first: int | None = None,
        after: str | None = None,
        filter: InterviewFilter | None = None,
    ) -> Connection[InterviewType]:
        f = filter or InterviewFilter()
        async with scope(info) as L:
            stmt = scheduling.interviews_query(
                f.state,
                f.kind,
                _pk(f.job_id, "filter.jobId", "Job"),
                _pk(f.candidate_id, "filter.candidateId", "Candidate"),
                L.only_interviewer or _pk(f.interviewer_id, "filter.interviewerId", "Interviewer"),
                f.starts_from,
                f.starts_to,
            )
            return await _page(L, stmt, Interview, first, after, info, L.interviews)

    @strawberry.field(permission_classes=[READ_INTERVIEWS])
    async def interview(self, info: Info, id: strawberry.ID) -> InterviewType | None:
        pk = _pk(id, "id", "Interview")
        async with scope(info) as L:
            row = await L.session.get(Interview, pk)
            if row is None or (L.only_interviewer and row.interviewer_id != L.only_interviewer):
                return None
            return (await L.interviews([row], selected_paths(info)))[0]

    @strawberry.field(permission_classes=[requires(Perm.JOBS_READ)])
    async def interviewers(
        self, info: Info, first: int | None = None, after: str | None = None
    ) -> Connection[InterviewerType]:
        async with scope(info) as L:
            return await _page(
                L,
                select(Interviewer.__table__),
                Interviewer,
                first,
                after,
                info,
                lambda rows, _paths: L.interviewers(rows),
            )

    @strawberry.field(permission_classes=[READ_INTERVIEWS])
    async def slots(
        self,
        info: Info,
        interviewer_id: strawberry.ID | None = None,
        first: int | None = None,
        after: str | None = None,
        starts_from: datetime | None = None,
        open_only: bool = False,
    ) -> Connection[SlotType]:
        pk = _pk(interviewer_id, "interviewerId", "Interviewer")
        async with scope(info) as L:
            stmt = select(Slot.__table__)
            if L.only_interviewer or pk:
                stmt = stmt.where(Slot.interviewer_id == (L.only_interviewer or pk))
            if starts_from:
                stmt = stmt.where(Slot.starts_at >= starts_from)
            if open_only:
                stmt = stmt.where(Slot.booked < Slot.capacity)
            return await _page(
                L, stmt, Slot, first, after, info, L.slots, order=(Slot.starts_at, Slot.id)
            )

    @strawberry.field(description="Any object by its global id.")
    async def node(self, info: Info, id: strawberry.ID) -> Node | None:
        type_name, pk = from_global(id)
        rule = NODE_RULES.get(type_name)
        if rule is None:
            return None
        model, perms = rule
        if not any(info.context.principal.can(p) for p in perms):
            raise FieldDenied(
                f"forbidden: reading a {type_name} requires {' or '.join(p.value for p in perms)}"
            )
        async with scope(info) as L:
            row = await L.session.get(model, pk)
            if model is Candidate:
                row = await _visible_candidate(L, row)
            if (
                model is Interview
                and row
                and L.only_interviewer
                and (row.interviewer_id != L.only_interviewer)
            ):
                row = None
            if row is None:
                return None
            paths = selected_paths(info)
            build = {
                Job: lambda r: L.jobs(r),
                Candidate: lambda r: L.candidates(r, paths),
                Interview: lambda r: L.interviews(r, paths),
                Interviewer: lambda r: L.interviewers(r),
                Application: lambda r: L.applications(r, paths),
                Slot: lambda r: L.slots(r, paths),
            }[model]
            return (await build([row]))[0]


NODE_RULES = {
    "Job": (Job, (Perm.JOBS_READ,)),
    "Candidate": (Candidate, (Perm.CANDIDATES_READ,)),
    "Application": (Application, (Perm.CANDIDATES_READ,)),
    "Interview": (Interview, (Perm.INTERVIEWS_READ, Perm.INTERVIEWS_READ_OWN)),
    "Interviewer": (Interviewer, (Perm.JOBS_READ,)),
    "Slot": (Slot, (Perm.INTERVIEWS_READ, Perm.INTERVIEWS_READ_OWN)),
}
