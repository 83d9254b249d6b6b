"""Payments: investors' bank accounts (numbers sealed), deposit references, transfers that arrived, withdrawals
and their history, providers' notifications (each applied once), and transfers between the bank and IB.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AMOUNT = sa.Numeric(28, 10).with_variant(sa.BigInteger(), "sqlite")
TIME = sa.DateTime(timezone=True)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
WITHDRAWAL_STATES = (
    "requested", "pending_review", "approved", "submitted", "settled", "rejected", "cancelled", "failed", "returned",
)  # fmt: skip


def _enum(name: str, *values: str, length: int) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint([column], [target], name=f"fk_{table}_{column}_{target.split('.')[0]}")


def upgrade() -> None:
    op.create_table(
        "bank_accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("kind", _enum("bank_kind", "iban", "us", length=8), nullable=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("bic", sa.String(11), nullable=True),
        sa.Column("routing_number", sa.String(9), nullable=True),
        sa.Column("account_number", sa.LargeBinary(), nullable=False),
        sa.Column("account_index", sa.LargeBinary(32), nullable=False),
        sa.Column("last4", sa.String(4), nullable=False),
        sa.Column("holder_name", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("usable_from", TIME, nullable=False),
        sa.Column("removed_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_bank_accounts"),
        _fk("bank_accounts", "owner_id", "users.id"),
    )
    op.create_index("ix_bank_accounts_owner", "bank_accounts", ["owner_id", "removed_at"])
    op.create_table(
        "deposit_references",
        sa.Column("reference", sa.String(16), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("reference", name="pk_deposit_references"),
        _fk("deposit_references", "owner_id", "users.id"),
    )
    op.create_index("ix_deposit_references_owner_id", "deposit_references", ["owner_id"])
    op.create_table(
        "incoming_transfers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(24), nullable=False),
        sa.Column("provider_tx_id", sa.String(100), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("reference", sa.String(140), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("credited_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incoming_transfers"),
        sa.UniqueConstraint("provider", "provider_tx_id", name="uq_incoming_transfers_provider_tx"),
        _fk("incoming_transfers", "owner_id", "users.id"),
    )
    op.create_index("ix_incoming_transfers_owner_id", "incoming_transfers", ["owner_id"])
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("client_key", sa.String(100), nullable=False),
        sa.Column("bank_account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("status", _enum("withdrawal_status", *WITHDRAWAL_STATES, length=16), nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("provider", sa.String(24), nullable=False),
        sa.Column("provider_ref", sa.String(100), nullable=True),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("settled_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_withdrawals"),
        sa.UniqueConstraint("owner_id", "client_key", name="uq_withdrawals_owner_key"),
        sa.UniqueConstraint("provider_ref", name="uq_withdrawals_provider_ref"),
        _fk("withdrawals", "owner_id", "users.id"),
        _fk("withdrawals", "bank_account_id", "bank_accounts.id"),
        _fk("withdrawals", "hold_id", "holds.id"),
    )
    op.create_index("ix_withdrawals_owner_created", "withdrawals", ["owner_id", "created_at"])
    op.create_index("ix_withdrawals_status", "withdrawals", ["status"])
    op.create_table(
        "withdrawal_transitions",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("withdrawal_id", sa.Uuid(), nullable=False),
        sa.Column("from_status", sa.String(16), nullable=True),
        sa.Column("to_status", sa.String(16), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.Column("detail", sa.String(300), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_withdrawal_transitions"),
        _fk("withdrawal_transitions", "withdrawal_id", "withdrawals.id"),
    )
    op.create_index("ix_withdrawal_transitions_withdrawal_id", "withdrawal_transitions", ["withdrawal_id"])
    op.create_table(
        "provider_events",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("provider", sa.String(24), nullable=False),
        sa.Column("event_id", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_provider_events"),
        sa.UniqueConstraint("provider", "event_id", name="uq_provider_events_provider_event"),
    )
    op.create_table(
        "broker_transfers",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("note", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("arrived_at", TIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_broker_transfers"),
    )


def downgrade() -> None:
    for table in ("broker_transfers", "provider_events", "withdrawal_transitions", "withdrawals",
                  "incoming_transfers", "deposit_references", "bank_accounts"):  # fmt: skip
        op.drop_table(table)
