"""The evidence trail (tenant schema) and the tenants' checkpoint signing keys (public)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..db.base import PublicBase, TenantBase


class EvidenceEvent(TenantBase):
    """Append-only (a trigger refuses UPDATE, DELETE and TRUNCATE)."""

    __tablename__ = "evidence_events"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    chain: Mapped[str] = mapped_column(Text)
    seq: Mapped[int] = mapped_column(BigInteger)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(320))
    candidate_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    interview_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    data: Mapped[Any] = mapped_column(JSONB)


class EvidenceHead(TenantBase):
    """The last event of each chain; appending locks this row, so only writers to the same
    chain wait for each other."""

    __tablename__ = "evidence_heads"

    chain: Mapped[str] = mapped_column(Text, primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)
    hash: Mapped[str] = mapped_column(String(64))


class EvidenceCheckpoint(TenantBase):
    __tablename__ = "evidence_checkpoints"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    sealed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    heads: Mapped[list[dict]] = mapped_column(JSONB)  # [{chain, seq, hash}], sorted by chain
    chains: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(128))
    key_id: Mapped[str] = mapped_column(String(40))


class EvidenceKey(PublicBase):
    """A tenant's Ed25519 checkpoint key: the private half wrapped by the master key."""

    __tablename__ = "evidence_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("public.tenants.id"), primary_key=True)
    key_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_fingerprint: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # active | retired
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


@dataclass
class NewEvent:
    """One event to append: the arguments of service.record()."""

    kind: str
    data: dict
    actor: str
    candidate_id: uuid.UUID | None = None
    interview_id: uuid.UUID | None = None
    occurred_at: datetime | None = None
