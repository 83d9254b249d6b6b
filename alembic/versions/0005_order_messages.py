"""The bot's tables: the confirmation message of each order (edited as the order moves), blocked chats, and the
notifier's claims on outbox messages.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_outbox_processed_at", "outbox", ["processed_at"])
    op.create_table(
        "order_messages",
        sa.Column(
            "order_id", sa.Uuid(), sa.ForeignKey("orders.id", name="fk_order_messages_order_id_orders"), nullable=False
        ),
        sa.Column("chat_id", sa.BigInteger(), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("order_id", name="pk_order_messages"),
    )
    op.create_table(
        "blocked_chats",
        sa.Column("telegram_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("blocked_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("telegram_id", name="pk_blocked_chats"),
    )


def downgrade() -> None:
    op.drop_table("blocked_chats")
    op.drop_table("order_messages")
    op.drop_index("ix_outbox_processed_at", "outbox")
    op.execute("ALTER TABLE outbox DROP COLUMN claimed_until")
