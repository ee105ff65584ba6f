"""public: each tenant's Ed25519 key for signing evidence checkpoints

Revision ID: p0003
Revises: p0002
"""

import sqlalchemy as sa
from alembic import op

revision = "p0003"
down_revision = "p0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "evidence_keys",
        sa.Column(
            "tenant_id",
            sa.Uuid,
            sa.ForeignKey("public.tenants.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("key_id", sa.String(40), primary_key=True),
        sa.Column("public_key", sa.LargeBinary, nullable=False),  # raw 32 bytes
        sa.Column("wrapped", sa.LargeBinary, nullable=False),  # private key, master-wrapped
        sa.Column("master_fingerprint", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),  # active | retired
        sa.Column(
            "created_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.text("now()"),
        ),
        sa.CheckConstraint("state in ('active', 'retired')", name="state"),
        schema="public",
    )
    op.create_index(
        "uq_evidence_keys_one_active",
        "evidence_keys",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("state = 'active'"),
        schema="public",
    )


def downgrade() -> None:
    op.drop_table("evidence_keys", schema="public")
