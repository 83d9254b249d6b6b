"""Reconciliation breaks: differences between the books and IB, from first sighting until cleared.

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(28, 10).with_variant(sa.BigInteger(), "sqlite")
TIME = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "reconciliation_breaks",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("key", sa.String(64), nullable=False),
        sa.Column("expected", AMOUNT, nullable=False),
        sa.Column("actual", AMOUNT, nullable=False),
        sa.Column("note", sa.String(300), nullable=False),
        sa.Column("first_seen", TIME, nullable=False),
        sa.Column("last_seen", TIME, nullable=False),
        sa.Column("resolved_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_reconciliation_breaks"),
    )
    op.create_index("ix_reconciliation_breaks_open", "reconciliation_breaks", ["resolved_at", "kind", "key"])


def downgrade() -> None:
    op.drop_table("reconciliation_breaks")
