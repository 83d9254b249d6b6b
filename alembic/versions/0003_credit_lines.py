"""Margin credit lines: how far below zero an investor's cash may go (ledger/credit.py).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(28, 10).with_variant(sa.BigInteger(), "sqlite")


def upgrade() -> None:
    op.add_column("accounts", sa.Column("credit_line", AMOUNT, nullable=False, server_default="0"))


def downgrade() -> None:
    op.execute("ALTER TABLE accounts DROP COLUMN credit_line")  # SQLite 3.35+ drops in place, keeping the triggers
