"""tenant: pack settings (a tenant admin's overrides of its packs' defaults)

Revision ID: t0001
Revises:

Runs with the tenant schema first on search_path, so tables are created unqualified.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0001"
down_revision = None
branch_labels = ("tenant",)
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pack_settings",
        sa.Column("pack", sa.String(40), primary_key=True),
        sa.Column("key", sa.String(80), primary_key=True),
        sa.Column("value", pg.JSONB, nullable=False),
        sa.Column(
            "updated_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.Column("updated_by", sa.Uuid),
    )


def downgrade() -> None:
    op.drop_table("pack_settings")
