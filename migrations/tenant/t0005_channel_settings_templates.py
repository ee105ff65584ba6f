"""tenant: per-tenant provider settings (credentials encrypted) and message templates

Revision ID: t0005
Revises: t0004
"""

import sqlalchemy as sa
from alembic import op

revision = "t0005"
down_revision = "t0004"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "channel_settings",
        sa.Column("channel", sa.String(16), primary_key=True),
        sa.Column("base_url", sa.String(2000), nullable=False),
        sa.Column("credential_enc", sa.LargeBinary),
        sa.Column("sender", sa.String(254), nullable=False, server_default=""),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
    )
    op.create_table(
        "message_templates",
        sa.Column("kind", sa.String(16), primary_key=True),  # short | email
        sa.Column("locale", sa.String(16), primary_key=True),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
    )


def downgrade() -> None:
    op.drop_table("message_templates")
    op.drop_table("channel_settings")
