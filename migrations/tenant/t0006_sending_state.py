"""tenant: a 'sending' state, taken atomically by the one worker that calls the provider

Revision ID: t0006
Revises: t0005
"""

from alembic import op

revision = "t0006"
down_revision = "t0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_constraint("status", "notifications", type_="check")
    op.create_check_constraint(
        "status", "notifications",
        "status in ('pending', 'queued', 'sending', 'sent', 'delivered', 'opened', 'failed', "
        "'bounced', 'void', 'skipped')")
    op.drop_constraint("status", "webhook_deliveries", type_="check")
    op.create_check_constraint(
        "status", "webhook_deliveries",
        "status in ('pending', 'queued', 'sending', 'delivered', 'failed')")


def downgrade() -> None:
    pass
