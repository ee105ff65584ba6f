"""tenant: the due-row indexes cover rows being sent (claims of dead workers are retaken)

Revision ID: t0007
Revises: t0006
"""

import sqlalchemy as sa
from alembic import op

revision = "t0007"
down_revision = "t0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_notifications_due", "notifications")
    op.create_index("ix_notifications_due", "notifications", ["due_at"],
                    postgresql_where=sa.text("status in ('pending', 'queued', 'sending')"))
    op.create_index("ix_notifications_claimed", "notifications", ["claimed_until"],
                    postgresql_where=sa.text("status in ('queued', 'sending')"))
    # One escalation per step of an interview, however many of its messages went unread.
    op.create_index("uq_notifications_one_escalation", "notifications",
                    ["interview_id", "step"], unique=True,
                    postgresql_where=sa.text("kind = 'escalation'"))
    op.drop_index("ix_webhook_deliveries_due", "webhook_deliveries")
    op.create_index("ix_webhook_deliveries_due", "webhook_deliveries", ["due_at"],
                    postgresql_where=sa.text("status in ('pending', 'queued', 'sending')"))


def downgrade() -> None:
    pass
