"""Reminder policies, the notification outbox and dead letters (tenant schema)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from ..crypto.registry import register_encrypted
from ..db.base import TenantBase

# pending -> queued (claimed by the scheduler) -> sent -> delivered -> opened; or failed,
# bounced; void when the interview was cancelled or moved; skipped when its condition no
# longer held at send time.
OPEN_STATES = ("pending", "queued")


def _ts(**kw: Any) -> Any:
    return mapped_column(DateTime(timezone=True), **kw)


class ReminderPolicy(TenantBase):
    __tablename__ = "reminder_policies"

    priority: Mapped[str] = mapped_column(String(16), primary_key=True)
    body: Mapped[dict] = mapped_column(JSONB)
    updated_at: Mapped[datetime] = _ts(server_default=func.now(), onupdate=func.now())
    updated_by: Mapped[str] = mapped_column(String(120), default="")


class Notification(TenantBase):
    __tablename__ = "notifications"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    interview_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.interviews.id"))
    candidate_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.candidates.id"))
    step: Mapped[int] = mapped_column(Integer)
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16), default="reminder")
    condition: Mapped[str] = mapped_column(String(32), default="always")
    escalate_after_minutes: Mapped[int | None] = mapped_column(Integer)
    escalate_channel: Mapped[str | None] = mapped_column(String(16))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    due_at: Mapped[datetime] = _ts()
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    claimed_until: Mapped[datetime | None] = _ts()
    provider_ref: Mapped[str | None] = mapped_column(String(200))
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    sent_at: Mapped[datetime | None] = _ts()
    delivered_at: Mapped[datetime | None] = _ts()
    opened_at: Mapped[datetime | None] = _ts()
    created_at: Mapped[datetime] = _ts(server_default=func.now())
    updated_at: Mapped[datetime] = _ts(server_default=func.now(), onupdate=func.now())


class ReceiptInbox(TenantBase):
    """A provider's status callback, kept as it came (one INSERT answers the provider) and
    applied with the others of its pass (delivery.receipts.apply_inbox)."""

    __tablename__ = "receipt_inbox"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16))
    received_at: Mapped[datetime] = _ts(server_default=func.now())


class DeadLetter(TenantBase):
    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(BigInteger, Identity(), primary_key=True)
    notification_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.notifications.id"))
    channel: Mapped[str] = mapped_column(String(16))
    error: Mapped[str] = mapped_column(String(2000))
    attempts: Mapped[int] = mapped_column(Integer)
    at: Mapped[datetime] = _ts(server_default=func.now())


class WebhookSubscription(TenantBase):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(ARRAY(String(64)))
    secret_enc: Mapped[bytes] = mapped_column(LargeBinary)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = _ts(server_default=func.now())


class WebhookDelivery(TenantBase):
    __tablename__ = "webhook_deliveries"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    subscription_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("tenant.webhook_subscriptions.id")
    )
    event: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    due_at: Mapped[datetime] = _ts(server_default=func.now())
    claimed_until: Mapped[datetime | None] = _ts()
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str] = mapped_column(String(1000), default="")
    delivered_at: Mapped[datetime | None] = _ts()
    created_at: Mapped[datetime] = _ts(server_default=func.now())


register_encrypted(WebhookSubscription.__table__, "secret_enc")


class ChannelSetting(TenantBase):
    """A tenant's own provider for a channel: base URL (smtp://host:port for email) and
    credential, encrypted."""

    __tablename__ = "channel_settings"

    channel: Mapped[str] = mapped_column(String(16), primary_key=True)
    base_url: Mapped[str] = mapped_column(String(2000))
    credential_enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    sender: Mapped[str] = mapped_column(String(254), default="")
    updated_at: Mapped[datetime] = _ts(server_default=func.now(), onupdate=func.now())


class MessageTemplate(TenantBase):
    __tablename__ = "message_templates"

    kind: Mapped[str] = mapped_column(String(16), primary_key=True)  # short | email
    locale: Mapped[str] = mapped_column(String(16), primary_key=True)
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = _ts(server_default=func.now(), onupdate=func.now())


register_encrypted(ChannelSetting.__table__, "credential_enc")
