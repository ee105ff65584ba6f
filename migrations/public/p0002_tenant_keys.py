"""public: per-tenant data keys, wrapped by the master key

Revision ID: p0002
Revises: p0001
"""

import sqlalchemy as sa
from alembic import op

revision = "p0002"
down_revision = "p0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tenant_keys",
        sa.Column(
            "tenant_id",
            sa.Uuid,
            sa.ForeignKey("public.tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("purpose", sa.String(16), primary_key=True),  # data | index
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("wrapped", sa.LargeBinary, nullable=False),
        sa.Column("master_fingerprint", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),  # active | decrypt_only
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.CheckConstraint("purpose in ('data', 'index')", name="purpose"),
        sa.CheckConstraint("state in ('active', 'decrypt_only')", name="state"),
        schema="public",
    )
    op.create_index(
        "uq_tenant_keys_one_active",
        "tenant_keys",
        ["tenant_id", "purpose"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
        schema="public",
    )


def downgrade() -> None:
    op.drop_table("tenant_keys", schema="public")
