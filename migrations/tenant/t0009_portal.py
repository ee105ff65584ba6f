"""tenant: candidate portal follow-ups, interview vendor settings and events, portal hits

Revision ID: t0009
Revises: t0008
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0009"
down_revision = "t0008"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("interview_id", sa.Uuid, sa.ForeignKey("interviews.id"), nullable=False,
                  index=True),
        sa.Column("candidate_id", sa.Uuid, sa.ForeignKey("candidates.id"), nullable=False,
                  index=True),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("urgent", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("status", sa.String(16), nullable=False, server_default="open"),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("resolved_by", sa.String(120)),
        sa.Column("resolved_at", TS),
        sa.CheckConstraint(
            "kind in ('technical_problem', 'reschedule_request', 'interview_abandoned')",
            name="kind",
        ),
        sa.CheckConstraint("status in ('open', 'resolved')", name="status"),
    )
    # The recruiters' queue: urgent first, then oldest.
    op.create_index("ix_follow_ups_queue", "follow_ups",
                    [sa.text("(NOT urgent)"), "created_at", "id"])
    op.create_table(
        "vendor_events",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("vendor", sa.String(120), nullable=False),
        sa.Column("event_id", sa.String(200), nullable=False),
        sa.Column("interview_id", sa.Uuid, sa.ForeignKey("interviews.id"), nullable=False,
                  index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("received_at", TS, nullable=False, server_default=NOW),
        sa.Column("payload", pg.JSONB, nullable=False),
        sa.UniqueConstraint("vendor", "event_id", name="uq_vendor_events_vendor_event_id"),
    )
    op.create_table(
        "interview_vendor_settings",
        sa.Column("id", sa.SmallInteger, primary_key=True),
        sa.Column("start_url_template", sa.String(2000), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_by", sa.String(120), nullable=False, server_default=""),
        sa.CheckConstraint("id = 1", name="one_row"),
    )
    op.create_table(
        "portal_hits",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("at", TS, nullable=False),
    )
    op.create_index("ix_portal_hits_address", "portal_hits", ["address", "at"])
    op.create_index("ix_portal_hits_token", "portal_hits", ["token_hash", "at"])
    op.create_index("ix_portal_hits_at", "portal_hits", ["at"])
    # Vendors report by their own reference: find it fast, and never on two interviews.
    op.create_index("uq_interviews_vendor_ref", "interviews", ["vendor_ref"], unique=True,
                    postgresql_where=sa.text("vendor_ref IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("uq_interviews_vendor_ref", "interviews")
    op.drop_table("portal_hits")
    op.drop_table("interview_vendor_settings")
    op.drop_table("vendor_events")
    op.drop_table("follow_ups")
