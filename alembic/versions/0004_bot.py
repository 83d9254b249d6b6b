"""The bot's state in the database: onboarding progress, pending actions behind buttons, trading sessions.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("two_factor", sa.Column("session_until", TIME, nullable=True))
    op.create_table(
        "onboarding",
        sa.Column("user_id", sa.Uuid(), sa.ForeignKey("users.id", name="fk_onboarding_user_id_users"), nullable=False),
        sa.Column("step", sa.String(24), nullable=False),
        sa.Column("terms_accepted_at", TIME, nullable=True),
        sa.Column("risk_answers", sa.LargeBinary(), nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_onboarding"),
    )
    op.create_table(
        "pending_actions",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", name="fk_pending_actions_user_id_users"), nullable=False
        ),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("expires_at", TIME, nullable=False),
        sa.Column("used_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_pending_actions"),
    )
    op.create_index("ix_pending_actions_user_id", "pending_actions", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_pending_actions_user_id", "pending_actions")
    op.drop_table("pending_actions")
    op.drop_table("onboarding")
    op.execute("ALTER TABLE two_factor DROP COLUMN session_until")
