"""Copy trading: sleeves in the ledger and on orders (a copy's own cash and shares), leaders, copies, what each
copy ordered for each of the leader's orders, and the leader's fills waiting to be mirrored.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(28, 10).with_variant(sa.BigInteger(), "sqlite")
TIME = sa.DateTime(timezone=True)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
LIVE = sa.text("status <> 'stopped'")


def _enum(name: str, *values: str, length: int) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    # Added in place (SQLite keeps the ledger's triggers on `accounts`); no foreign key: the ledger does not
    # know what a sleeve stands for.
    op.add_column("accounts", sa.Column("sleeve_id", sa.Uuid(), nullable=True))
    op.create_index("ix_accounts_sleeve_id", "accounts", ["sleeve_id"])
    op.add_column("orders", sa.Column("sleeve_id", sa.Uuid(), nullable=True))
    op.create_index("ix_orders_sleeve_id", "orders", ["sleeve_id"])

    op.create_table(
        "leaders",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("alias", sa.String(24), nullable=False),
        sa.Column("alias_key", sa.String(24), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("profit_share_pct", AMOUNT, nullable=False),
        sa.Column(
            "status", _enum("leader_status", "pending", "active", "rejected", "retired", length=16), nullable=False
        ),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("user_id", name="pk_leaders"),
        sa.UniqueConstraint("alias_key", name="uq_leaders_alias_key"),
        _fk("leaders", "user_id", "users.id"),
    )
    op.create_table(
        "copies",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("follower_id", sa.Uuid(), nullable=False),
        sa.Column("leader_id", sa.Uuid(), nullable=False),
        sa.Column("mode", _enum("copy_mode", "alerts", "copy", length=8), nullable=False),
        sa.Column("status", _enum("copy_status", "active", "paused", "stopping", "stopped", length=16), nullable=False),
        sa.Column("sizing", _enum("copy_sizing", "proportional", "fixed_amount", "ratio", length=16), nullable=False),
        sa.Column("sizing_value", AMOUNT, nullable=True),
        sa.Column("max_per_trade", AMOUNT, nullable=True),
        sa.Column("stop_loss_pct", AMOUNT, nullable=True),
        sa.Column("take_profit_pct", AMOUNT, nullable=True),
        sa.Column("invested", AMOUNT, nullable=False),
        sa.Column("high_water_mark", AMOUNT, nullable=False),
        sa.Column("stop_reason", sa.String(200), nullable=False),
        sa.Column("keep_positions", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_copies"),
        _fk("copies", "follower_id", "users.id"),
        _fk("copies", "leader_id", "leaders.user_id"),
    )
    op.create_index("ix_copies_leader_status", "copies", ["leader_id", "status"])
    op.create_index("ix_copies_follower_status", "copies", ["follower_id", "status"])
    op.create_index(
        "uq_copies_live_pair",
        "copies",
        ["follower_id", "leader_id"],
        unique=True,
        postgresql_where=LIVE,
        sqlite_where=LIVE,
    )
    op.create_table(
        "copy_mirrors",
        sa.Column("copy_id", sa.Uuid(), nullable=False),
        sa.Column("leader_order_id", sa.Uuid(), nullable=False),
        sa.Column("ordered", AMOUNT, nullable=False),
        sa.Column("skipped", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("copy_id", "leader_order_id", name="pk_copy_mirrors"),
        _fk("copy_mirrors", "copy_id", "copies.id"),
        _fk("copy_mirrors", "leader_order_id", "orders.id"),
    )
    op.create_table(
        "copy_signals",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("leader_id", sa.Uuid(), nullable=False),
        sa.Column("leader_order_id", sa.Uuid(), nullable=True),
        sa.Column("copy_id", sa.Uuid(), nullable=True),
        sa.Column("con_id", sa.BigInteger(), nullable=False),
        sa.Column("side", _enum("signal_side", "buy", "sell", length=8), nullable=False),
        sa.Column("price", AMOUNT, nullable=False),
        sa.Column("position_before", AMOUNT, nullable=False),
        sa.Column("position_after", AMOUNT, nullable=False),
        sa.Column("order_quantity", AMOUNT, nullable=False),
        sa.Column("order_filled", AMOUNT, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("processed_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_copy_signals"),
        sa.UniqueConstraint("key", name="uq_copy_signals_key"),
        _fk("copy_signals", "leader_id", "leaders.user_id"),
        _fk("copy_signals", "leader_order_id", "orders.id"),
        _fk("copy_signals", "copy_id", "copies.id"),
        _fk("copy_signals", "con_id", "instruments.con_id"),
    )
    op.create_index("ix_copy_signals_processed_at", "copy_signals", ["processed_at"])


def downgrade() -> None:
    op.drop_table("copy_signals")
    op.drop_table("copy_mirrors")
    op.drop_table("copies")
    op.drop_table("leaders")
    op.drop_index("ix_orders_sleeve_id", "orders")
    op.execute("ALTER TABLE orders DROP COLUMN sleeve_id")
    op.drop_index("ix_accounts_sleeve_id", "accounts")
    op.execute("ALTER TABLE accounts DROP COLUMN sleeve_id")  # SQLite 3.35+ drops in place, keeping the triggers
