"""tenant: recruiting (jobs, candidates, applications, interviewers, slots, interviews)

Revision ID: t0002
Revises: t0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql as pg

revision = "t0002"
down_revision = "t0001"
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)
NOW = sa.text("now()")


def upgrade() -> None:
    op.create_table(
        "jobs",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("department", sa.String(200), nullable=False, server_default=""),
        sa.Column("location", sa.String(200), nullable=False, server_default=""),
        sa.Column("family", sa.String(80), nullable=False, server_default=""),
        sa.Column("priority", sa.String(16), nullable=False, server_default="normal"),
        sa.Column(
            "required_qualifications", pg.ARRAY(sa.String(80)), nullable=False, server_default="{}"
        ),
        sa.Column("status", sa.String(16), nullable=False, server_default="draft"),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint("priority in ('normal', 'high', 'critical')", name="priority"),
        sa.CheckConstraint("status in ('draft', 'open', 'closed')", name="status"),
    )
    op.create_table(
        "candidates",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("phone_enc", sa.LargeBinary),
        sa.Column("phone_hash", sa.String(64), index=True),
        sa.Column("email_enc", sa.LargeBinary),
        sa.Column("email_hash", sa.String(64), index=True),
        sa.Column("wechat_openid_enc", sa.LargeBinary),
        sa.Column("push_token_enc", sa.LargeBinary),
        sa.Column("id_number_enc", sa.LargeBinary),
        sa.Column("notes_enc", sa.LargeBinary),
        sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("locale", sa.String(16), nullable=False, server_default="en"),
        sa.Column("consent", pg.JSONB, nullable=False, server_default="{}"),
        sa.Column("tags", pg.ARRAY(sa.String(60)), nullable=False, server_default="{}"),
        sa.Column("source", sa.String(80), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
    )
    op.create_index("ix_candidates_created", "candidates", ["created_at", "id"])
    op.create_index("ix_candidates_name_lower", "candidates", [sa.text("lower(name)")])
    op.create_table(
        "applications",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "candidate_id", sa.Uuid, sa.ForeignKey("candidates.id"), nullable=False, index=True
        ),
        sa.Column("job_id", sa.Uuid, sa.ForeignKey("jobs.id"), nullable=False, index=True),
        sa.Column("stage", sa.String(32), nullable=False, server_default="applied"),
        sa.Column("match_score", sa.Integer, nullable=False, server_default="0"),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.UniqueConstraint("candidate_id", "job_id"),
        sa.CheckConstraint("match_score between 0 and 100", name="match_score"),
    )
    op.create_table(
        "stage_changes",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "application_id", sa.Uuid, sa.ForeignKey("applications.id"), nullable=False, index=True
        ),
        sa.Column("from_stage", sa.String(32)),
        sa.Column("to_stage", sa.String(32), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(120), nullable=False, server_default=""),
    )
    op.create_table(
        "interviewers",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("user_id", sa.Uuid, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(254), nullable=False, server_default=""),
        sa.Column("time_zone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
    )
    op.create_table(
        "availability_rules",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "interviewer_id",
            sa.Uuid,
            sa.ForeignKey("interviewers.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("weekday", sa.SmallInteger, nullable=False),
        sa.Column("start_time", sa.Time, nullable=False),
        sa.Column("end_time", sa.Time, nullable=False),
        sa.CheckConstraint("weekday between 0 and 6", name="weekday"),
        sa.CheckConstraint("start_time < end_time", name="order"),
    )
    op.create_table(
        "availability_exceptions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column(
            "interviewer_id",
            sa.Uuid,
            sa.ForeignKey("interviewers.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("available", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.String(200), nullable=False, server_default=""),
        sa.CheckConstraint("starts_at < ends_at", name="order"),
    )
    op.create_table(
        "slots",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "interviewer_id", sa.Uuid, sa.ForeignKey("interviewers.id"), nullable=False, index=True
        ),
        sa.Column("starts_at", TS, nullable=False),
        sa.Column("ends_at", TS, nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False, server_default="1"),
        sa.Column("booked", sa.Integer, nullable=False, server_default="0"),
        sa.Column("location", sa.String(200), nullable=False, server_default=""),
        sa.CheckConstraint("starts_at < ends_at", name="order"),
        sa.CheckConstraint("booked >= 0 and booked <= capacity", name="capacity"),
    )
    op.create_table(
        "interviews",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column(
            "application_id", sa.Uuid, sa.ForeignKey("applications.id"), nullable=False, index=True
        ),
        sa.Column(
            "candidate_id", sa.Uuid, sa.ForeignKey("candidates.id"), nullable=False, index=True
        ),
        sa.Column("job_id", sa.Uuid, sa.ForeignKey("jobs.id"), nullable=False, index=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False, server_default="scheduled"),
        sa.Column("opens_at", TS, nullable=False),
        sa.Column("closes_at", TS, nullable=False),
        sa.Column("slot_id", sa.Uuid, sa.ForeignKey("slots.id"), index=True),
        sa.Column("interviewer_id", sa.Uuid, sa.ForeignKey("interviewers.id"), index=True),
        sa.Column("attempt", sa.Integer, nullable=False, server_default="1"),
        sa.Column("vendor_ref", sa.String(200)),
        sa.Column("link_token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("link_token_enc", sa.LargeBinary, nullable=False),
        sa.Column("link_expires_at", TS, nullable=False),
        sa.Column("cancel_reason", sa.String(500), nullable=False, server_default=""),
        sa.Column("created_at", TS, nullable=False, server_default=NOW),
        sa.Column("updated_at", TS, nullable=False, server_default=NOW),
        sa.CheckConstraint("kind in ('ai_async', 'live')", name="kind"),
        sa.CheckConstraint("opens_at < closes_at", name="window"),
        sa.CheckConstraint(
            "state in ('scheduled', 'confirmed', 'started', 'completed', 'no_show', "
            "'cancelled', 'rescheduled')",
            name="state",
        ),
    )
    op.create_index("ix_interviews_opens", "interviews", ["opens_at", "id"])


def downgrade() -> None:
    for table in (
        "interviews",
        "slots",
        "availability_exceptions",
        "availability_rules",
        "interviewers",
        "stage_changes",
        "applications",
        "candidates",
        "jobs",
    ):
        op.drop_table(table)
