"""Jobs, candidates, applications, interviewers and availability, slots, interviews."""

from __future__ import annotations

import uuid
from datetime import datetime, time
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    Time,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..crypto.registry import register_encrypted
from ..db.base import TenantBase

STAGES = (
    "applied",
    "screened",
    "interview_scheduled",
    "no_show",
    "follow_up",
    "interviewed",
    "talent_pool",
    "backup",
    "rejected",
    "hired",
)
PRIORITIES = ("normal", "high", "critical")
JOB_STATUSES = ("draft", "open", "closed")
INTERVIEW_KINDS = ("ai_async", "live")
CHANNELS = ("sms", "email", "voice", "wechat", "push")


def _ts(**kw: Any) -> Any:
    return mapped_column(DateTime(timezone=True), **kw)


class Job(TenantBase):
    __tablename__ = "jobs"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    title: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    family: Mapped[str] = mapped_column(String(80), default="")
    priority: Mapped[str] = mapped_column(String(16), default="normal")
    required_qualifications: Mapped[list[str]] = mapped_column(ARRAY(String(80)), default=list)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    updated_at: Mapped[datetime] = _ts(server_default=func.now(), onupdate=func.now())


class Candidate(TenantBase):
    __tablename__ = "candidates"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    name: Mapped[str] = mapped_column(String(200))
    phone_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_hash: Mapped[str | None] = mapped_column(String(64))
    email_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_hash: Mapped[str | None] = mapped_column(String(64))
    wechat_openid_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    push_token_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    notes_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    locale: Mapped[str] = mapped_column(String(16), default="en")
    consent: Mapped[dict[str, bool]] = mapped_column(JSONB, default=dict)
    tags: Mapped[list[str]] = mapped_column(ARRAY(String(60)), default=list)
    source: Mapped[str] = mapped_column(String(80), default="")
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    updated_at: Mapped[datetime] = _ts(server_default=func.now(), onupdate=func.now())


class Application(TenantBase):
    __tablename__ = "applications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.candidates.id"))
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.jobs.id"))
    stage: Mapped[str] = mapped_column(String(32), default="applied")
    match_score: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    updated_at: Mapped[datetime] = _ts(server_default=func.now(), onupdate=func.now())


class StageChange(TenantBase):
    __tablename__ = "stage_changes"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.applications.id"))
    from_stage: Mapped[str | None] = mapped_column(String(32))
    to_stage: Mapped[str] = mapped_column(String(32))
    at: Mapped[datetime] = _ts()
    actor: Mapped[str] = mapped_column(String(120), default="")


class Interviewer(TenantBase):
    __tablename__ = "interviewers"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID | None] = mapped_column(Uuid, unique=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    created_at: Mapped[datetime] = _ts(server_default=func.now())


class AvailabilityRule(TenantBase):
    __tablename__ = "availability_rules"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    interviewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.interviewers.id"))
    weekday: Mapped[int] = mapped_column(SmallInteger)  # 0 = Monday
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)


class AvailabilityException(TenantBase):
    __tablename__ = "availability_exceptions"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    interviewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.interviewers.id"))
    starts_at: Mapped[datetime] = _ts()
    ends_at: Mapped[datetime] = _ts()
    available: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(String(200), default="")


class Slot(TenantBase):
    __tablename__ = "slots"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    interviewer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.interviewers.id"))
    starts_at: Mapped[datetime] = _ts()
    ends_at: Mapped[datetime] = _ts()
    capacity: Mapped[int] = mapped_column(Integer, default=1)
    booked: Mapped[int] = mapped_column(Integer, default=0)
    location: Mapped[str] = mapped_column(String(200), default="")


class Interview(TenantBase):
    __tablename__ = "interviews"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    application_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.applications.id"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.candidates.id"))
    job_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.jobs.id"))
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="scheduled")
    opens_at: Mapped[datetime] = _ts()
    closes_at: Mapped[datetime] = _ts()
    slot_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenant.slots.id"))
    interviewer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenant.interviewers.id"))
    attempt: Mapped[int] = mapped_column(Integer, default=1)
    vendor_ref: Mapped[str | None] = mapped_column(String(200))
    link_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    link_token_enc: Mapped[bytes] = mapped_column(LargeBinary)
    link_expires_at: Mapped[datetime] = _ts()
    cancel_reason: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    updated_at: Mapped[datetime] = _ts(server_default=func.now(), onupdate=func.now())


register_encrypted(
    Candidate.__table__,
    "phone_enc",
    "email_enc",
    "wechat_openid_enc",
    "push_token_enc",
    "id_number_enc",
    "notes_enc",
)
register_encrypted(Interview.__table__, "link_token_enc")
