"""Each investor's equity as last valued on each trading day: the equity curve.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(28, 10).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "nav_history",
        sa.Column(
            "owner_id", sa.Uuid(), sa.ForeignKey("users.id", name="fk_nav_history_owner_id_users"), nullable=False
        ),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("equity", AMOUNT, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("owner_id", "day", name="pk_nav_history"),
    )


def downgrade() -> None:
    op.drop_table("nav_history")
