"""Evidence in the API: a candidate's timeline (a field of Candidate), the export archive
and sealing on demand."""

from __future__ import annotations

import base64
from datetime import datetime

import strawberry
from sqlalchemy import select
from strawberry.scalars import JSON
from strawberry.types import Info

from ..auth.permissions import Perm
from ..graphql.connection import Connection
from ..graphql.errors import as_error, result
from ..graphql.lookahead import selected_paths
from ..graphql.permissions import requires
from ..graphql.relay import from_global, to_global
from ..kit.errors import ServiceError
from .bundle import export_archive
from .service import cursor_of, record, seal, timeline_page


@strawberry.type(name="EvidenceEvent")
class EvidenceEventType:
    id: strawberry.ID
    seq: int = strawberry.field(description="Position in the candidate's chain, from 1.")
    kind: str = strawberry.field(description="e.g. notification.sent, link.opened")
    actor: str
    occurred_at: datetime
    recorded_at: datetime
    interview_id: strawberry.ID | None
    data: JSON
    hash: str
    prev_hash: str


@strawberry.type(name="EvidenceCheckpoint")
class EvidenceCheckpointType:
    id: strawberry.ID
    sealed_at: datetime
    chains: int
    events: int
    root: str = strawberry.field(description="Merkle root (hex) over the chain heads.")
    key_id: str


@strawberry.type
class EvidenceExportPayload:
    filename: str
    sha256: str = strawberry.field(description="SHA-256 (hex) of the archive.")
    archive_base64: str = strawberry.field(description="The zip: bundle.json, timeline.pdf.")
    events: int
    checkpoint_id: strawberry.ID
    includes_pdf: bool


@strawberry.type
class SealEvidencePayload:
    checkpoint: EvidenceCheckpointType


ExportEvidenceResult = result("ExportEvidenceResult", EvidenceExportPayload)
SealEvidenceResult = result("SealEvidenceResult", SealEvidencePayload)


def _event_type(row) -> EvidenceEventType:
    return EvidenceEventType(
        id=to_global("EvidenceEvent", row.id),
        seq=row.seq,
        kind=row.kind,
        actor=row.actor,
        occurred_at=row.occurred_at,
        recorded_at=row.recorded_at,
        interview_id=to_global("Interview", row.interview_id) if row.interview_id else None,
        data=row.data,
        hash=row.hash,
        prev_hash=row.prev_hash,
    )


def _actor(info: Info) -> str:
    p = info.context.principal
    return f"user:{p.email}" if p.kind == "user" else f"client:{p.client_id}"


async def candidate_timeline(
    root: strawberry.Parent[object],
    info: Info,
    first: int | None = None,
    after: str | None = None,
    kinds: list[str] | None = None,
) -> Connection[EvidenceEventType]:
    """Resolver of Candidate.timeline: the candidate's evidence, oldest first."""
    from ..recruiting.models import Interview
    from ..recruiting.scheduling import interviewer_of_user

    ctx = info.context
    async with ctx.tenant_db() as s:
        only = None
        # Compliance and auditors read the whole trail (they export it); an interviewer only
        # their interviews' events.
        if not ctx.principal.can(Perm.INTERVIEWS_READ) and not ctx.principal.can(
            Perm.EVIDENCE_EXPORT
        ):
            mine = await interviewer_of_user(s, ctx.principal.user_id)
            only = []
            if mine is not None:
                only = list(
                    await s.scalars(
                        select(Interview.id).where(
                            Interview.candidate_id == root.pk, Interview.interviewer_id == mine.id
                        )
                    )
                )
        rows, has_next, total = await timeline_page(
            s, root.pk, first, after, kinds, only, "totalCount" in selected_paths(info)
        )
    return Connection.of([(cursor_of(r), _event_type(r)) for r in rows], has_next, total)


@strawberry.type
class EvidenceMutation:
    @strawberry.mutation(
        permission_classes=[requires(Perm.EVIDENCE_EXPORT)],
        description="A candidate's evidence as one zip: bundle.json (events, hash chain, "
        "signed checkpoint) and timeline.pdf. Seals first if needed.",
    )
    async def export_evidence(
        self, info: Info, candidate_id: strawberry.ID
    ) -> ExportEvidenceResult:
        ctx = info.context
        try:
            pk = from_global(candidate_id, "candidateId", "Candidate")[1]
            tenant = ctx.require_tenant()
            archive = await export_archive(tenant, pk)
            async with ctx.tenant_db() as s:  # who exported what is evidence too
                await record(
                    s,
                    "evidence.exported",
                    {
                        "filename": archive.filename,
                        "sha256": archive.sha256,
                        "checkpoint_id": archive.checkpoint_id,
                        "events": archive.events,
                    },
                    actor=_actor(info),
                    candidate_id=pk,
                )
                await s.commit()
        except ServiceError as exc:
            return as_error(exc)
        return EvidenceExportPayload(
            filename=archive.filename,
            sha256=archive.sha256,
            archive_base64=base64.b64encode(archive.data).decode(),
            events=archive.events,
            checkpoint_id=strawberry.ID(archive.checkpoint_id),
            includes_pdf=archive.has_pdf,
        )

    @strawberry.mutation(
        permission_classes=[requires(Perm.EVIDENCE_SEAL)],
        description="Sign the heads of every evidence chain now (else done periodically).",
    )
    async def seal_evidence(self, info: Info) -> SealEvidenceResult:
        ctx = info.context
        try:
            tenant = ctx.require_tenant()
            async with ctx.tenant_db() as s:
                cp = await seal(s, tenant)
                await s.commit()
        except ServiceError as exc:
            return as_error(exc)
        return SealEvidencePayload(
            checkpoint=EvidenceCheckpointType(
                id=strawberry.ID(str(cp.id)),
                sealed_at=cp.sealed_at,
                chains=cp.chains,
                events=cp.events,
                root=cp.root,
                key_id=cp.key_id,
            )
        )
