"""Follow-ups for recruiters, the interview vendor's settings and events, portal hit counts."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Identity,
    LargeBinary,
    SmallInteger,
    String,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..crypto.registry import register_encrypted
from ..db.base import TenantBase

FOLLOW_UP_KINDS = ("technical_problem", "reschedule_request", "interview_abandoned")
FOLLOW_UP_STATUSES = ("open", "resolved")
VENDOR_EVENT_TYPES = ("started", "completed", "abandoned")


def _ts(**kw: Any) -> Any:
    return mapped_column(DateTime(timezone=True), **kw)


class FollowUp(TenantBase):
    """Something a recruiter has to look at: a candidate's problem or request."""

    __tablename__ = "follow_ups"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    interview_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.interviews.id"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.candidates.id"))
    kind: Mapped[str] = mapped_column(String(32))
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    description: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    resolved_by: Mapped[str | None] = mapped_column(String(120))
    resolved_at: Mapped[datetime | None] = _ts()


class VendorEvent(TenantBase):
    """Every event a vendor (or integrator) reported, once: its id is the replay guard."""

    __tablename__ = "vendor_events"
    __table_args__ = (UniqueConstraint("vendor", "event_id"),)

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(120))  # "webhook" or "client:<id>"
    event_id: Mapped[str] = mapped_column(String(200))
    interview_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.interviews.id"))
    kind: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = _ts(server_default=func.now())
    payload: Mapped[dict] = mapped_column(JSONB)


class InterviewVendorSettings(TenantBase):
    """The tenant's AI-interview vendor: one row (id = 1)."""

    __tablename__ = "interview_vendor_settings"
    __table_args__ = (CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True, default=1)
    start_url_template: Mapped[str] = mapped_column(String(2000))
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = _ts(server_default=func.now(), onupdate=func.now())
    updated_by: Mapped[str] = mapped_column(String(120), default="")


class PortalHit(TenantBase):
    """One portal request, kept a few minutes for rate limiting (works across processes)."""

    __tablename__ = "portal_hits"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = _ts()


register_encrypted(InterviewVendorSettings.__table__, "secret_enc")
