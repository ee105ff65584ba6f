"""tenant: reminder policies and the notification outbox

Revision ID: t0003
Revises: t0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0003"
down_revision = "t0002"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "reminder_policies",
        sa.Column("priority", sa.String(16), primary_key=True),  # "" = the tenant default
        sa.Column("body", pg.JSONB, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_by", sa.String(120), nullable=False, server_default=""),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("interview_id", sa.Uuid, sa.ForeignKey("interviews.id"), nullable=False,
                  index=True),
        sa.Column("candidate_id", sa.Uuid, sa.ForeignKey("candidates.id"), nullable=False,
                  index=True),
        sa.Column("step", sa.Integer, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False, server_default="reminder"),
        sa.Column("condition", sa.String(32), nullable=False, server_default="always"),
        sa.Column("escalate_after_minutes", sa.Integer),
        sa.Column("escalate_channel", sa.String(16)),
        sa.Column("parent_id", sa.Uuid),  # the reminder an escalation follows up
        sa.Column("due_at", TS, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("claimed_until", TS),
        sa.Column("provider_ref", sa.String(200)),
        sa.Column("last_error", sa.String(1000), nullable=False, server_default=""),
        sa.Column("sent_at", TS),
        sa.Column("delivered_at", TS),
        sa.Column("opened_at", TS),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint(
            "status in ('pending', 'queued', 'sent', 'delivered', 'opened', 'failed', "
            "'bounced', 'void', 'skipped')", name="status"),
    )
    op.create_index("ix_notifications_due", "notifications", ["due_at"],
                    postgresql_where=sa.text("status in ('pending', 'queued')"))
    op.create_table(
        "dead_letters",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("notification_id", sa.Uuid, sa.ForeignKey("notifications.id"),
                  nullable=False, index=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("error", sa.String(2000), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("at", TS, nullable=False, server_default=NOW),
    )


def downgrade() -> None:
    for table in ("dead_letters", "notifications", "reminder_policies"):
        op.drop_table(table)
