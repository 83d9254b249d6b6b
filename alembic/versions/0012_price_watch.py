"""The price watch: price alerts (above, below, a move; one-shot or repeating), protective orders (a stop or a
target on a position), and margin calls (a margin account below maintenance, until cured or acted on).

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(28, 10).with_variant(sa.BigInteger(), "sqlite")
TIME = sa.DateTime(timezone=True)
ACTIVE = sa.text("status = 'active'")


def _status() -> sa.Enum:
    values = ("active", "selling", "done", "failed", "deleted")
    return sa.Enum(*values, name="watch_status", native_enum=False, create_constraint=True, length=8)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target], name=f"fk_{table}_{column}_{referred}")


def upgrade() -> None:
    condition = sa.Enum(
        "above", "below", "move", name="alert_condition", native_enum=False, create_constraint=True, length=8
    )
    op.create_table(
        "price_alerts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("con_id", sa.BigInteger(), nullable=False),
        sa.Column("condition", condition, nullable=False),
        sa.Column("level", AMOUNT, nullable=False),
        sa.Column("reference", AMOUNT, nullable=True),
        sa.Column("repeat", sa.Boolean(), nullable=False),
        sa.Column("cooldown_seconds", sa.Integer(), nullable=False),
        sa.Column("armed", sa.Boolean(), nullable=False),
        sa.Column("fired_count", sa.Integer(), nullable=False),
        sa.Column("last_fired_at", TIME, nullable=True),
        sa.Column("status", _status(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_price_alerts"),
        _fk("price_alerts", "owner_id", "users.id"),
        _fk("price_alerts", "con_id", "instruments.con_id"),
    )
    op.create_index("ix_price_alerts_status_con_id", "price_alerts", ["status", "con_id"])
    op.create_index("ix_price_alerts_owner_status", "price_alerts", ["owner_id", "status"])

    kind = sa.Enum("stop", "target", name="protect_kind", native_enum=False, create_constraint=True, length=8)
    op.create_table(
        "protective_orders",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("con_id", sa.BigInteger(), nullable=False),
        sa.Column("kind", kind, nullable=False),
        sa.Column("trigger", AMOUNT, nullable=False),
        sa.Column("quantity", AMOUNT, nullable=True),
        sa.Column("status", _status(), nullable=False),
        sa.Column("order_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_protective_orders"),
        _fk("protective_orders", "owner_id", "users.id"),
        _fk("protective_orders", "con_id", "instruments.con_id"),
        _fk("protective_orders", "order_id", "orders.id"),
    )
    op.create_index("ix_protective_orders_status_con_id", "protective_orders", ["status", "con_id"])
    op.create_index(
        "uq_protective_orders_active",
        "protective_orders",
        ["owner_id", "con_id", "kind"],
        unique=True,
        postgresql_where=ACTIVE,
        sqlite_where=ACTIVE,
    )

    op.create_table(
        "margin_calls",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("opened_at", TIME, nullable=False),
        sa.Column("deadline", TIME, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("closed_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_margin_calls"),
        _fk("margin_calls", "owner_id", "users.id"),
    )
    is_open = sa.text("status = 'open'")
    op.create_index(
        "uq_margin_calls_open",
        "margin_calls",
        ["owner_id"],
        unique=True,
        postgresql_where=is_open,
        sqlite_where=is_open,
    )


def downgrade() -> None:
    op.drop_table("margin_calls")
    op.drop_table("protective_orders")
    op.drop_table("price_alerts")
