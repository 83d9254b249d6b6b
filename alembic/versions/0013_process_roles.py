"""Process roles: the elected broker process (advisory lock, epoch and heartbeat), what other processes ask of
it, the leases of periodic jobs shared by several workers, and the Telegram updates already taken up (several bot
processes behind one webhook).

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "broker_leader",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("epoch", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(200), nullable=False),
        sa.Column("elected_at", TIME, nullable=False),
        sa.Column("heartbeat_at", TIME, nullable=False),
        sa.Column("status", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_broker_leader"),
    )
    op.create_table(
        "broker_requests",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("argument", sa.String(100), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("taken_by", sa.String(200), nullable=True),
        sa.Column("answered_at", TIME, nullable=True),
        sa.Column("answer", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_broker_requests"),
    )
    op.create_index("ix_broker_requests_answered_at", "broker_requests", ["answered_at"])
    op.create_table(
        "job_leases",
        sa.Column("name", sa.String(50), nullable=False),
        sa.Column("due_at", TIME, nullable=False),
        sa.Column("held_by", sa.String(200), nullable=True),
        sa.Column("held_until", TIME, nullable=True),
        sa.PrimaryKeyConstraint("name", name="pk_job_leases"),
    )
    op.create_table(
        "seen_updates",
        sa.Column("update_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("seen_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("update_id", name="pk_seen_updates"),
    )
    op.create_index("ix_seen_updates_seen_at", "seen_updates", ["seen_at"])


def downgrade() -> None:
    op.drop_index("ix_seen_updates_seen_at", table_name="seen_updates")
    op.drop_table("seen_updates")
    op.drop_table("job_leases")
    op.drop_index("ix_broker_requests_answered_at", table_name="broker_requests")
    op.drop_table("broker_requests")
    op.drop_table("broker_leader")
