"""Notification settings (what each user wants to hear of: on, silent, off, per kind), and the limits an admin
sets for one investor.

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notification_settings",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", "kind", name="pk_notification_settings"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_notification_settings_user_id_users"),
    )

    amount = sa.Numeric(28, 10).with_variant(sa.BigInteger(), "sqlite")
    op.create_table(
        "user_limits",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("orders_per_minute", sa.Integer(), nullable=True),
        sa.Column("max_order_notional", amount, nullable=True),
        sa.Column("withdrawal_daily_limit", amount, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_user_limits"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_user_limits_user_id_users"),
    )


def downgrade() -> None:
    op.drop_table("user_limits")
    op.drop_table("notification_settings")
