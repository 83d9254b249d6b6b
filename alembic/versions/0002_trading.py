"""Trading: orders and their transitions, block orders and their executions, halts, trading profiles, house margin
rules, pending settlements of sale proceeds, the second factor, and the outbox.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(28, 10).with_variant(sa.BigInteger(), "sqlite")
TIME = sa.DateTime(timezone=True)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str, length: int) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("topic", sa.String(length=40), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("processed_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_outbox"),
        sa.UniqueConstraint("key", name="uq_outbox_key"),
    )

    op.create_table(
        "trading_halts",
        sa.Column("con_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("since", TIME, nullable=False),
        sa.PrimaryKeyConstraint("con_id", name="pk_trading_halts"),
    )
    op.create_table(
        "blocks",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("con_id", sa.BigInteger(), nullable=False),
        sa.Column("side", _enum("order_side", "buy", "sell", length=8), nullable=False),
        sa.Column("order_type", _enum("order_type", "market", "limit", length=8), nullable=False),
        sa.Column("tif", _enum("time_in_force", "day", "gtc", length=8), nullable=False),
        sa.Column("limit_price", AMOUNT, nullable=True),
        sa.Column(
            "status",
            _enum(
                "block_status",
                "new",
                "submitted",
                "partially_filled",
                "filled",
                "cancelled",
                "rejected",
                "expired",
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("quantity", AMOUNT, nullable=False),
        sa.Column("filled_quantity", AMOUNT, nullable=False),
        sa.Column("filled_gross", AMOUNT, nullable=False),
        sa.Column("executions", sa.Integer(), nullable=False),
        sa.Column("route_at", TIME, nullable=False),
        sa.Column("routed_at", TIME, nullable=True),
        sa.Column("ib_order_id", sa.BigInteger(), nullable=True),
        sa.Column("perm_id", sa.BigInteger(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["con_id"], ["instruments.con_id"], name="fk_blocks_con_id_instruments"),
        sa.PrimaryKeyConstraint("id", name="pk_blocks"),
    )
    op.create_index("ix_blocks_open", "blocks", ["con_id", "side", "route_at"])

    op.create_table(
        "margin_overrides",
        sa.Column("con_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("initial", AMOUNT, nullable=False),
        sa.Column("maintenance", AMOUNT, nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["con_id"], ["instruments.con_id"], name="fk_margin_overrides_con_id_instruments"),
        sa.PrimaryKeyConstraint("con_id", name="pk_margin_overrides"),
    )
    op.create_table(
        "pending_settlements",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("settles_on", sa.Date(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_pending_settlements_owner_id_users"),
        sa.PrimaryKeyConstraint("key", name="pk_pending_settlements"),
    )
    op.create_index("ix_pending_settlements_owner", "pending_settlements", ["owner_id", "settles_on"])

    op.create_table(
        "trading_profiles",
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("account_type", _enum("account_type", "cash", "margin", length=8), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_trading_profiles_owner_id_users"),
        sa.PrimaryKeyConstraint("owner_id", name="pk_trading_profiles"),
    )
    op.create_table(
        "two_factor",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("secret", sa.LargeBinary(), nullable=False),
        sa.Column("enrolled_at", TIME, nullable=True),
        sa.Column("last_step", sa.BigInteger(), nullable=True),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("locked_until", TIME, nullable=True),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], name="fk_two_factor_user_id_users"),
        sa.PrimaryKeyConstraint("user_id", name="pk_two_factor"),
    )
    op.create_table(
        "block_executions",
        sa.Column("exec_id", sa.String(length=64), nullable=False),
        sa.Column("block_id", sa.Uuid(), nullable=False),
        sa.Column("quantity", AMOUNT, nullable=False),
        sa.Column("price", AMOUNT, nullable=False),
        sa.Column("commission", AMOUNT, nullable=False),
        sa.Column("to_house", AMOUNT, nullable=False),
        sa.Column("executed_at", TIME, nullable=False),
        sa.Column("booked_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["block_id"], ["blocks.id"], name="fk_block_executions_block_id_blocks"),
        sa.PrimaryKeyConstraint("exec_id", name="pk_block_executions"),
    )

    op.create_table(
        "orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("client_key", sa.String(length=100), nullable=False),
        sa.Column("con_id", sa.BigInteger(), nullable=False),
        sa.Column("side", _enum("order_side", "buy", "sell", length=8), nullable=False),
        sa.Column("order_type", _enum("order_type", "market", "limit", length=8), nullable=False),
        sa.Column("tif", _enum("time_in_force", "day", "gtc", length=8), nullable=False),
        sa.Column("quantity", AMOUNT, nullable=False),
        sa.Column("limit_price", AMOUNT, nullable=True),
        sa.Column(
            "status",
            _enum(
                "order_status",
                "new",
                "submitted",
                "partially_filled",
                "filled",
                "cancelled",
                "rejected",
                "expired",
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("filled_quantity", AMOUNT, nullable=False),
        sa.Column("filled_gross", AMOUNT, nullable=False),
        sa.Column("commission", AMOUNT, nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=True),
        sa.Column("block_id", sa.Uuid(), nullable=True),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("cancel_requested_at", TIME, nullable=True),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["block_id"], ["blocks.id"], name="fk_orders_block_id_blocks"),
        sa.ForeignKeyConstraint(["con_id"], ["instruments.con_id"], name="fk_orders_con_id_instruments"),
        sa.ForeignKeyConstraint(["hold_id"], ["holds.id"], name="fk_orders_hold_id_holds"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_orders_owner_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_orders"),
        sa.UniqueConstraint("owner_id", "client_key", name="uq_orders_owner_key"),
    )
    op.create_index("ix_orders_owner_created", "orders", ["owner_id", "created_at"])

    op.create_table(
        "order_transitions",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=False),
        sa.Column(
            "from_status",
            _enum(
                "transition_from",
                "new",
                "submitted",
                "partially_filled",
                "filled",
                "cancelled",
                "rejected",
                "expired",
                length=20,
            ),
            nullable=True,
        ),
        sa.Column(
            "to_status",
            _enum(
                "transition_to",
                "new",
                "submitted",
                "partially_filled",
                "filled",
                "cancelled",
                "rejected",
                "expired",
                length=20,
            ),
            nullable=False,
        ),
        sa.Column("at", TIME, nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(["order_id"], ["orders.id"], name="fk_order_transitions_order_id_orders"),
        sa.PrimaryKeyConstraint("id", name="pk_order_transitions"),
    )
    for name, table, columns in (
        ("ix_outbox_topic", "outbox", ["topic"]),
        ("ix_blocks_status", "blocks", ["status"]),
        ("ix_block_executions_block_id", "block_executions", ["block_id"]),
        ("ix_orders_block_id", "orders", ["block_id"]),
        ("ix_orders_status", "orders", ["status"]),
        ("ix_order_transitions_order_id", "order_transitions", ["order_id"]),
    ):
        op.create_index(name, table, columns)


def downgrade() -> None:
    for table in (
        "order_transitions",
        "orders",
        "block_executions",
        "blocks",
        "two_factor",
        "trading_profiles",
        "pending_settlements",
        "margin_overrides",
        "trading_halts",
        "outbox",
    ):
        op.drop_table(table)
