"""tenant: the evidence trail (hash-chained events per candidate, chain heads, signed
checkpoints); the database refuses to change or remove events and checkpoints

Revision ID: t0008
Revises: t0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0008"
down_revision = "t0007"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    # No foreign keys: evidence outlives the rows it is about, and an FK check would take a
    # lock on the candidate row that concurrent writers would queue on.
    op.create_table(
        "evidence_events",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("chain", sa.Text, nullable=False),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(64), nullable=False),
        sa.Column("actor", sa.String(320), nullable=False),
        sa.Column("candidate_id", sa.Uuid),
        sa.Column("interview_id", sa.Uuid),
        sa.Column("occurred_at", TS, nullable=False),
        sa.Column("recorded_at", TS, nullable=False),
        sa.Column("data", pg.JSONB, nullable=False),
        sa.UniqueConstraint("chain", "seq", name="uq_evidence_events_chain_seq"),
        sa.CheckConstraint("seq >= 1", name="ck_evidence_events_seq"),
    )
    op.create_index("ix_evidence_events_interview_id", "evidence_events", ["interview_id"])
    op.create_table(
        "evidence_heads",
        sa.Column("chain", sa.Text, primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    op.create_table(
        "evidence_checkpoints",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("sealed_at", TS, nullable=False),
        sa.Column("heads", pg.JSONB, nullable=False),  # [{chain, seq, hash}] sorted by chain
        sa.Column("chains", sa.Integer, nullable=False),
        sa.Column("events", sa.BigInteger, nullable=False),  # sum of the heads' seq
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(40), nullable=False),
    )
    op.create_index("ix_evidence_checkpoints_sealed_at", "evidence_checkpoints", ["sealed_at"])
    # The function lives in the tenant schema (first on the search path here).
    op.execute(
        """
        CREATE FUNCTION evidence_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )
    for table in ("evidence_events", "evidence_checkpoints"):
        op.execute(
            f"CREATE TRIGGER {table}_no_change BEFORE UPDATE OR DELETE ON {table} "
            "FOR EACH ROW EXECUTE FUNCTION evidence_append_only()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            "FOR EACH STATEMENT EXECUTE FUNCTION evidence_append_only()"
        )
        # Also by privilege, for the application's own role (the owner, when it migrates).
        # A superuser bypasses privileges, not the triggers.
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM PUBLIC")
        op.execute(f"REVOKE UPDATE, DELETE, TRUNCATE ON {table} FROM CURRENT_USER")


def downgrade() -> None:
    for table in ("evidence_checkpoints", "evidence_heads", "evidence_events"):
        op.drop_table(table)
    op.execute("DROP FUNCTION evidence_append_only()")
