"""tenant: outgoing webhooks (subscriptions and their delivery log)

Revision ID: t0004
Revises: t0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0004"
down_revision = "t0003"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "webhook_subscriptions",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("url", sa.String(2000), nullable=False),
        sa.Column("events", pg.ARRAY(sa.String(64)), nullable=False),
        sa.Column("secret_enc", sa.LargeBinary, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
    )
    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("subscription_id", sa.Uuid,
                  sa.ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"),
                  nullable=False, index=True),
        sa.Column("event", sa.String(64), nullable=False),
        sa.Column("payload", pg.JSONB, nullable=False),
        sa.Column("status", sa.String(16), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("due_at", TS, nullable=False, server_default=NOW),
        sa.Column("claimed_until", TS),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("last_error", sa.String(1000), nullable=False, server_default=""),
        sa.Column("delivered_at", TS),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint("status in ('pending', 'queued', 'delivered', 'failed')",
                           name="status"),
    )
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["due_at"],
                    postgresql_where=sa.text("status in ('pending', 'queued')"))


def downgrade() -> None:
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_subscriptions")
