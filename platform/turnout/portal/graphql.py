"""GraphQL: the recruiters' follow-up queue, the interview vendor's settings, and vendor events
for integrators (the same rules as the signed webhook)."""

from __future__ import annotations

import uuid
from datetime import datetime

import strawberry
from sqlalchemy import select
from strawberry.types import Info

from ..auth.permissions import Perm
from ..graphql.connection import Connection
from ..graphql.errors import as_error, result
from ..graphql.lookahead import selected_paths
from ..graphql.permissions import requires
from ..graphql.relay import from_global, to_global
from ..kit.errors import InvalidInput, ServiceError, invalid
from ..kit.pagination import decode_cursor, encode_cursor, page_size
from ..recruiting.graphql.loaders import Loaders, among, sub
from ..recruiting.graphql.scope import actor, scope
from ..recruiting.graphql.types import InterviewType
from ..recruiting.models import Interview
from . import followups, vendor
from .models import FollowUp, InterviewVendorSettings


@strawberry.type(name="FollowUp")
class FollowUpType:
    id: strawberry.ID
    kind: str = strawberry.field(
        description="technical_problem, reschedule_request or interview_abandoned."
    )
    urgent: bool
    description: str
    status: str = strawberry.field(description="open or resolved.")
    created_at: datetime
    resolved_by: str | None
    resolved_at: datetime | None
    interview_id: strawberry.ID
    candidate_id: strawberry.ID
    interview: InterviewType | None = None


@strawberry.type(name="InterviewVendor")
class InterviewVendorType:
    start_url_template: str
    has_webhook_secret: bool = strawberry.field(description="The secret itself is never shown.")
    webhook_url: str = strawberry.field(description="Where the vendor posts its events.")
    updated_at: datetime
    updated_by: str


@strawberry.input
class InterviewVendorEventInput:
    event_id: str = strawberry.field(description="The vendor's id; a repeat changes nothing.")
    type: str = strawberry.field(description="started, completed or abandoned.")
    occurred_at: datetime
    interview_id: strawberry.ID | None = None
    vendor_ref: str | None = None


@strawberry.type
class FollowUpPayload:
    follow_up: FollowUpType


@strawberry.type
class InterviewVendorPayload:
    vendor: InterviewVendorType


@strawberry.type
class InterviewVendorEventPayload:
    duplicate: bool = strawberry.field(description="The event id was seen before: ignored.")
    changed: bool
    interview: InterviewType
    follow_up: FollowUpType | None = None


FollowUpResult = result("FollowUpResult", FollowUpPayload)
InterviewVendorResult = result("InterviewVendorResult", InterviewVendorPayload)
InterviewVendorEventResult = result("InterviewVendorEventResult", InterviewVendorEventPayload)


def _follow_up(f: FollowUp, interview: InterviewType | None = None) -> FollowUpType:
    return FollowUpType(
        id=to_global("FollowUp", f.id),
        kind=f.kind,
        urgent=f.urgent,
        description=f.description,
        status=f.status,
        created_at=f.created_at,
        resolved_by=f.resolved_by,
        resolved_at=f.resolved_at,
        interview_id=to_global("Interview", f.interview_id),
        candidate_id=to_global("Candidate", f.candidate_id),
        interview=interview,
    )


def _vendor(info: Info, row: InterviewVendorSettings) -> InterviewVendorType:
    ctx = info.context
    base = ctx.settings.public_url.rstrip("/")
    return InterviewVendorType(
        start_url_template=row.start_url_template,
        has_webhook_secret=row.secret_enc is not None,
        webhook_url=f"{base}/webhooks/interview-vendor/{ctx.require_tenant().slug}",
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )


def _after(cursor: str | None) -> tuple[bool, datetime, uuid.UUID] | None:
    if cursor is None:
        return None
    later, at, fid = decode_cursor(cursor, 3)
    try:
        return later == "1", datetime.fromisoformat(at), uuid.UUID(fid)
    except ValueError:
        raise invalid("after", "not a cursor this API issued") from None


async def _interviews(L: Loaders, ids: set[uuid.UUID], paths: frozenset[str]) -> dict:
    """The page's interviews in one query, built (with what they nest) by the loaders."""
    if not ids:
        return {}
    rows = list(
        await L.session.execute(select(Interview.__table__).where(among(Interview.id, ids)))
    )
    return {i.pk: i for i in await L.interviews(rows, paths)}


@strawberry.type
class PortalQuery:
    @strawberry.field(
        permission_classes=[requires(Perm.INTERVIEWS_READ)],
        description="What candidates asked for and vendors reported: urgent first, then oldest.",
    )
    async def follow_ups(
        self,
        info: Info,
        status: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[FollowUpType]:
        n = page_size(first)
        paths = selected_paths(info)
        async with scope(info) as L:
            page = await followups.follow_up_page(L.session, status, n, _after(after))
            total = None
            if "totalCount" in paths:
                total = await followups.count_follow_ups(L.session, status)
            interviews = {}
            if "edges.node.interview" in paths:
                below = sub(paths, "edges.node.interview")
                interviews = await _interviews(L, {f.interview_id for f in page.rows}, below)
        return Connection.of(
            [
                (
                    encode_cursor(int(not f.urgent), f.created_at.isoformat(), f.id),
                    _follow_up(f, interviews.get(f.interview_id)),
                )
                for f in page.rows
            ],
            page.has_next,
            total,
        )

    @strawberry.field(
        permission_classes=[requires(Perm.SETTINGS_MANAGE)],
        description="The AI-interview vendor: where 'start' sends candidates. Null: none set up.",
    )
    async def interview_vendor(self, info: Info) -> InterviewVendorType | None:
        async with info.context.tenant_db() as s:
            row = await vendor.get_settings(s)
        return _vendor(info, row) if row else None


@strawberry.type
class PortalMutation:
    @strawberry.mutation(permission_classes=[requires(Perm.INTERVIEWS_WRITE)])
    async def resolve_follow_up(self, info: Info, id: strawberry.ID) -> FollowUpResult:
        try:
            pk = from_global(id, "id", "FollowUp")[1]
            async with info.context.tenant_db() as s:
                f = await followups.resolve_follow_up(s, pk, actor(info))
                await s.commit()
        except ServiceError as exc:
            return as_error(exc)
        return FollowUpPayload(follow_up=_follow_up(f))

    @strawberry.mutation(
        permission_classes=[requires(Perm.SETTINGS_MANAGE)],
        description="Set the AI-interview vendor. startUrlTemplate may use {interview_id}, "
        "{vendor_ref} and {locale}; webhookSecret verifies the vendor's events (null keeps "
        "the current one).",
    )
    async def set_interview_vendor(
        self, info: Info, start_url_template: str, webhook_secret: str | None = None
    ) -> InterviewVendorResult:
        ctx = info.context
        try:
            async with scope(info) as L:
                row = await vendor.set_settings(
                    L.session,
                    L.cipher,
                    start_url_template,
                    webhook_secret,
                    actor(info),
                    allow_internal=ctx.settings.development,
                )
                await L.session.commit()
                await L.session.refresh(row)
        except ServiceError as exc:
            return as_error(exc)
        return InterviewVendorPayload(vendor=_vendor(info, row))

    @strawberry.mutation(
        permission_classes=[requires(Perm.INTERVIEWS_WRITE)],
        description="Report an AI-interview vendor event (as the signed webhook does).",
    )
    async def record_interview_vendor_event(
        self, info: Info, input: InterviewVendorEventInput
    ) -> InterviewVendorEventResult:
        who = actor(info)
        async with scope(info) as L:
            try:
                event = vendor.parse_event(
                    {
                        "event_id": input.event_id,
                        "type": input.type,
                        "interview_id": input.interview_id,
                        "vendor_ref": input.vendor_ref,
                        "occurred_at": input.occurred_at.isoformat(),
                    }
                )
                out = await vendor.apply_event(L.session, event, who, who)
            except ServiceError as exc:
                await L.session.rollback()
                return as_error(_camel(exc))
            await L.session.commit()
            paths = sub(selected_paths(info), "interview")
            iv = (await L.interviews([out.interview], paths))[0]
        return InterviewVendorEventPayload(
            duplicate=out.duplicate,
            changed=out.changed,
            interview=iv,
            follow_up=_follow_up(out.follow_up) if out.follow_up else None,
        )


def _camel(exc: ServiceError) -> ServiceError:
    """The webhook's JSON names fields in snake_case; GraphQL callers see input.camelCase."""

    def name(f: str | None) -> str | None:
        if f is None:
            return None
        head, *rest = f.split("_")
        return "input." + head + "".join(w.title() for w in rest)

    if isinstance(exc, InvalidInput):
        for p in exc.problems:
            p.field = name(p.field)
        return InvalidInput(problems=exc.problems)
    exc.field = name(exc.field)
    return exc
