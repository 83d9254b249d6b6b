"""Initial schema: users, instruments, the double-entry ledger, holds and positions, with the ledger's triggers.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The storage of core.types: exact NUMERIC on PostgreSQL, an integer count of 10**-10 on SQLite.
AMOUNT = sa.Numeric(28, 10).with_variant(sa.BigInteger(), "sqlite")
TIME = sa.DateTime(timezone=True)
AUTO_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _enum(name: str, *values: str, length: int) -> sa.Enum:
    return sa.Enum(*values, name=name, native_enum=False, create_constraint=True, length=length)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("telegram_id", sa.BigInteger(), nullable=False),
        sa.Column(
            "status",
            _enum("user_status", "new", "pending_kyc", "active", "frozen", "closed", length=16),
            nullable=False,
        ),
        sa.Column("role", _enum("user_role", "investor", "admin", length=16), nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.Column("full_name", sa.LargeBinary(), nullable=True),
        sa.Column("email", sa.LargeBinary(), nullable=True),
        sa.Column("phone", sa.LargeBinary(), nullable=True),
        sa.Column("country", sa.LargeBinary(), nullable=True),
        sa.Column("email_index", sa.LargeBinary(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("telegram_id", name="uq_users_telegram_id"),
    )
    op.create_index("ix_users_email_index", "users", ["email_index"])

    op.create_table(
        "instruments",
        sa.Column("con_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("symbol", sa.String(24), nullable=False),
        sa.Column("sec_type", sa.String(8), nullable=False),
        sa.Column("exchange", sa.String(16), nullable=False),
        sa.Column("primary_exchange", sa.String(16), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("description", sa.String(200), nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("con_id", name="pk_instruments"),
    )
    op.create_index("ix_instruments_symbol", "instruments", ["symbol"])

    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(120), nullable=False),
        sa.Column(
            "kind",
            _enum(
                "account_kind",
                "investor_cash",
                "investor_position",
                "broker_cash",
                "broker_position",
                "bank",
                "suspense",
                "house_equity",
                "house_fees",
                "house_commissions",
                "house_error",
                length=24,
            ),
            nullable=False,
        ),
        sa.Column("owner_id", sa.Uuid(), nullable=True),
        sa.Column("currency", sa.String(3), nullable=True),
        sa.Column("instrument_id", sa.BigInteger(), nullable=True),
        sa.Column("balance", AMOUNT, nullable=False),
        sa.Column("held", AMOUNT, nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.CheckConstraint("(currency IS NULL) <> (instrument_id IS NULL)", name="ck_accounts_one_asset"),
        sa.ForeignKeyConstraint(
            ["instrument_id"], ["instruments.con_id"], name="fk_accounts_instrument_id_instruments"
        ),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"], name="fk_accounts_owner_id_users"),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("code", name="uq_accounts_code"),
    )
    op.create_index("ix_accounts_owner_id", "accounts", ["owner_id"])

    op.create_table(
        "entries",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("memo", sa.String(500), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_entries"),
        sa.UniqueConstraint("idempotency_key", name="uq_entries_idempotency_key"),
    )

    op.create_table(
        "postings",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("balance_after", AMOUNT, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_postings_account_id_accounts"),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name="fk_postings_entry_id_entries",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_postings"),
    )
    op.create_index("ix_postings_entry_id", "postings", ["entry_id"])
    op.create_index("ix_postings_account_posting", "postings", ["account_id", "id"])

    op.create_table(
        "holds",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(200), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.Column("posted", AMOUNT, nullable=False),
        sa.Column("released", AMOUNT, nullable=False),
        sa.Column(
            "status",
            _enum("hold_status", "pending", "posted", "released", "voided", length=16),
            nullable=False,
        ),
        sa.Column("reason", sa.String(200), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_holds_account_id_accounts"),
        sa.PrimaryKeyConstraint("id", name="pk_holds"),
        sa.UniqueConstraint("idempotency_key", name="uq_holds_idempotency_key"),
    )
    op.create_index("ix_holds_account_id", "holds", ["account_id"])

    op.create_table(
        "hold_uses",
        sa.Column("id", AUTO_ID, autoincrement=True, nullable=False),
        sa.Column("hold_id", sa.Uuid(), nullable=False),
        sa.Column("entry_id", sa.Uuid(), nullable=False),
        sa.Column("amount", AMOUNT, nullable=False),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["entries.id"],
            name="fk_hold_uses_entry_id_entries",
            deferrable=True,
            initially="DEFERRED",
        ),
        sa.ForeignKeyConstraint(["hold_id"], ["holds.id"], name="fk_hold_uses_hold_id_holds"),
        sa.PrimaryKeyConstraint("id", name="pk_hold_uses"),
    )
    op.create_index("ix_hold_uses_hold_id", "hold_uses", ["hold_id"])

    op.create_table(
        "positions",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("cost_basis", AMOUNT, nullable=False),
        sa.Column("realized_pnl", AMOUNT, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name="fk_positions_account_id_accounts"),
        sa.PrimaryKeyConstraint("account_id", name="pk_positions"),
    )

    for statement in POSTGRESQL_TRIGGERS if op.get_bind().dialect.name == "postgresql" else SQLITE_TRIGGERS:
        op.execute(statement)


def downgrade() -> None:
    # Dropping the tables drops their triggers; the PostgreSQL functions go separately.
    for table in ("positions", "hold_uses", "holds", "postings", "entries", "accounts", "instruments", "users"):
        op.drop_table(table)
    if op.get_bind().dialect.name == "postgresql":
        for function in (
            "ledger_refuse_change()",
            "ledger_postings_inserted()",
            "ledger_entries_balance()",
            "ledger_account_guard()",
            "ledger_normal_sign(text)",
        ):
            op.execute(f"DROP FUNCTION {function}")


# The ledger keeps itself whole in the database, not only in Python:
# - postings, entries and hold uses are never updated, deleted or replaced (corrections are reversing entries);
# - an entry's postings are inserted before the entry; a posting for an entry already recorded is refused;
# - an entry row is refused unless its postings (at least two) sum to zero for each asset;
# - postings move their accounts' cached balance and version, and each posting's balance_after must be the
#   balance it leaves; a balance moves in no other way, and an account opens empty: so the cached balance is
#   always the sum of the postings, and a statement's running balance cannot lie;
# - an account never changes what it is (kind, owner, asset, code).
# Balances are seen on each account's normal side: +1 for debit-normal kinds (what the platform has), -1 for
# the others (what it owes, its income and its equity); ledger/accounts.py says the same in Python.
_DEBIT_NORMAL = "('broker_cash', 'broker_position', 'bank')"
_SIGN = "(CASE WHEN {kind} IN " + _DEBIT_NORMAL + " THEN 1 ELSE -1 END)"
_UNBALANCED = """
    (SELECT count(*) FROM postings p WHERE p.entry_id = {entry}) < 2
    OR EXISTS (SELECT 1 FROM postings p JOIN accounts a ON a.id = p.account_id WHERE p.entry_id = {entry}
               GROUP BY a.currency, a.instrument_id HAVING sum(p.amount) <> 0)
"""
_IDENTITY_CHANGED = (
    "NEW.code {op} OLD.code OR NEW.kind {op} OLD.kind OR NEW.owner_id {op} OLD.owner_id "
    "OR NEW.currency {op} OLD.currency OR NEW.instrument_id {op} OLD.instrument_id"
)
_IDENTITY = "code, kind, owner_id, currency, instrument_id"
_NOT_THROUGH_POSTINGS = "ledger: a balance moves only through postings, each leaving the balance it says"

POSTGRESQL_TRIGGERS = [
    f"""
    CREATE FUNCTION ledger_normal_sign(kind text) RETURNS integer LANGUAGE sql IMMUTABLE AS $$
        SELECT {_SIGN.format(kind="kind")}
    $$
    """,
    """
    CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger: % on % refused: the ledger is append-only, correct it with a reversing entry',
            TG_OP, TG_TABLE_NAME USING ERRCODE = 'integrity_constraint_violation';
    END $$
    """,
    # One statement's postings at a time (a batch of entries is one statement): refuse postings for recorded
    # entries, move each account once, then check every posting's running balance against the result.
    # enable_seqscan = off in both ledger triggers: their plans are cached for the life of a connection, and while
    # the tables are young their statistics say "tiny", so the planner would go on scanning whole tables (whose
    # cost then grows with the books) instead of probing their indexes.
    f"""
    CREATE FUNCTION ledger_postings_inserted() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
    BEGIN
        IF EXISTS (SELECT 1 FROM new_postings n JOIN entries e ON e.id = n.entry_id) THEN
            RAISE EXCEPTION 'ledger: postings cannot be added to an entry already recorded'
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        UPDATE accounts a SET balance = a.balance + ledger_normal_sign(a.kind) * d.moved, version = a.version + d.n
          FROM (SELECT account_id, sum(amount) AS moved, count(*) AS n FROM new_postings GROUP BY account_id) d
         WHERE a.id = d.account_id;
        IF EXISTS (
            SELECT 1
              FROM (SELECT n.account_id, n.balance_after,
                           coalesce(sum(n.amount) OVER (PARTITION BY n.account_id ORDER BY n.id DESC
                                    ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS later
                      FROM new_postings n) p
              JOIN accounts a ON a.id = p.account_id
             WHERE p.balance_after <> a.balance - ledger_normal_sign(a.kind) * p.later
        ) THEN
            RAISE EXCEPTION '{_NOT_THROUGH_POSTINGS}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE FUNCTION ledger_entries_balance() RETURNS trigger LANGUAGE plpgsql SET enable_seqscan = off AS $$
    DECLARE
        bad text;
    BEGIN
        SELECT n.idempotency_key INTO bad FROM new_entries n WHERE {_UNBALANCED.format(entry="n.id")} LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'ledger: entry % does not balance per asset, or has fewer than two postings', bad
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NULL;
    END $$
    """,
    # Guards every write to accounts that does not come from a trigger (see the WHEN of accounts_guard): only
    # ledger_postings_inserted, a trigger, moves balances, and it is spared a call per account it moves.
    f"""
    CREATE FUNCTION ledger_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            IF NEW.balance <> 0 THEN
                RAISE EXCEPTION 'ledger: an account opens empty' USING ERRCODE = 'integrity_constraint_violation';
            END IF;
        ELSIF {_IDENTITY_CHANGED.format(op="IS DISTINCT FROM")} THEN
            RAISE EXCEPTION 'ledger: account % cannot change its code, kind, owner or asset', OLD.id
                USING ERRCODE = 'integrity_constraint_violation';
        ELSIF NEW.balance IS DISTINCT FROM OLD.balance THEN
            RAISE EXCEPTION '{_NOT_THROUGH_POSTINGS}' USING ERRCODE = 'integrity_constraint_violation';
        END IF;
        RETURN NEW;
    END $$
    """,
    *(
        statement
        for table in ("postings", "entries", "hold_uses")
        for statement in (
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()",
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION ledger_refuse_change()",
        )
    ),
    "CREATE TRIGGER postings_inserted AFTER INSERT ON postings REFERENCING NEW TABLE AS new_postings "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_postings_inserted()",
    "CREATE TRIGGER entries_balance AFTER INSERT ON entries REFERENCING NEW TABLE AS new_entries "
    "FOR EACH STATEMENT EXECUTE FUNCTION ledger_entries_balance()",
    f"CREATE TRIGGER accounts_guard BEFORE INSERT OR UPDATE OF {_IDENTITY}, balance ON accounts "
    "FOR EACH ROW WHEN (pg_trigger_depth() = 0) EXECUTE FUNCTION ledger_account_guard()",
]

# SQLite's triggers run row by row, and any client may open the file: each rule also names what the ledger's
# own writes never do (replace a row, write with foreign keys off).
SQLITE_TRIGGERS = [
    *(
        f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} BEGIN "
        f"SELECT RAISE(ABORT, 'ledger: {verb} on {table} refused: the ledger is append-only, "
        f"correct it with a reversing entry'); END"
        for table in ("postings", "entries", "hold_uses")
        for verb in ("UPDATE", "DELETE")
    ),
    # INSERT OR REPLACE deletes without firing DELETE triggers: refuse a row that would replace another.
    *(
        f"CREATE TRIGGER {table}_never_replaced BEFORE INSERT ON {table} WHEN {clash} BEGIN "
        f"SELECT RAISE(ABORT, 'ledger: a row of {table} cannot be replaced'); END"
        for table, clash in (
            ("postings", "EXISTS (SELECT 1 FROM postings WHERE id = NEW.id)"),
            ("entries", "EXISTS (SELECT 1 FROM entries WHERE id = NEW.id OR idempotency_key = NEW.idempotency_key)"),
            ("hold_uses", "EXISTS (SELECT 1 FROM hold_uses WHERE id = NEW.id)"),
            ("accounts", "EXISTS (SELECT 1 FROM accounts WHERE id = NEW.id)"),
        )
    ),
    # The deferred foreign key is what keeps postings from committing without their entry.
    "CREATE TRIGGER postings_need_foreign_keys BEFORE INSERT ON postings "
    "WHEN (SELECT foreign_keys FROM pragma_foreign_keys) = 0 BEGIN "
    "SELECT RAISE(ABORT, 'ledger: postings are written with foreign keys on (PRAGMA foreign_keys = ON)'); END",
    "CREATE TRIGGER postings_before_entry BEFORE INSERT ON postings "
    "WHEN EXISTS (SELECT 1 FROM entries WHERE id = NEW.entry_id) BEGIN "
    "SELECT RAISE(ABORT, 'ledger: postings cannot be added to an entry already recorded'); END",
    "CREATE TRIGGER postings_move_balance AFTER INSERT ON postings BEGIN "
    f"UPDATE accounts SET balance = balance + {_SIGN.format(kind='kind')} * NEW.amount, version = version + 1 "
    "WHERE id = NEW.account_id; END",
    # A balance is always its account's latest posting's balance_after: true after every posting (the check
    # of each posting's running balance), and no other update can keep it true while changing the balance.
    "CREATE TRIGGER accounts_balance_follows_postings BEFORE UPDATE OF balance ON accounts "
    "WHEN NEW.balance IS NOT coalesce((SELECT balance_after FROM postings WHERE account_id = NEW.id "
    "ORDER BY id DESC LIMIT 1), 0) "
    f"BEGIN SELECT RAISE(ABORT, '{_NOT_THROUGH_POSTINGS}'); END",
    "CREATE TRIGGER accounts_open_empty BEFORE INSERT ON accounts WHEN NEW.balance <> 0 BEGIN "
    "SELECT RAISE(ABORT, 'ledger: an account opens empty'); END",
    f"CREATE TRIGGER entries_balance AFTER INSERT ON entries WHEN {_UNBALANCED.format(entry='NEW.id')} BEGIN "
    "SELECT RAISE(ABORT, 'ledger: entry does not balance per asset, or has fewer than two postings'); END",
    f"CREATE TRIGGER accounts_identity BEFORE UPDATE OF {_IDENTITY} ON accounts "
    f"WHEN {_IDENTITY_CHANGED.format(op='IS NOT')} "
    "BEGIN SELECT RAISE(ABORT, 'ledger: an account cannot change its code, kind, owner or asset'); END",
]
