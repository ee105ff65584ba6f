"""Per-tenant keys, wrapped by the master key (public schema)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, LargeBinary, String, func
from sqlalchemy.orm import Mapped, mapped_column

from ..db.base import PublicBase


class TenantKey(PublicBase):
    __tablename__ = "tenant_keys"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("public.tenants.id"), primary_key=True)
    purpose: Mapped[str] = mapped_column(String(16), primary_key=True)  # data | index
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    wrapped: Mapped[bytes] = mapped_column(LargeBinary)
    master_fingerprint: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16))  # active | decrypt_only
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
