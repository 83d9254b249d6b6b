"""The audit trail on both databases: security and money events recorded in the transaction that makes them,
one chain however many write at once, refused edits, and tampering found by `verify` (an edited event, one cut
off the end, a chain rewritten without the key)."""

from __future__ import annotations

import asyncio
import hashlib
import json
from decimal import Decimal

import pyotp
import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from core import audit, two_factor
from core.clock import ManualClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database, UnitOfWork
from core.errors import InvalidCode, TwoFactorLocked
from core.ids import Uuid7Generator
from tests.support import new_investor


async def test_two_factor_failures_and_a_lockout_are_in_the_trail_and_the_chain_holds(
    db: Database, cipher: FieldCipher, clock: ManualClock
) -> None:
    settings = Settings(totp_max_failures=3)
    owner = await new_investor(db)
    enrolment = await db.transact(lambda uow: two_factor.begin_enrolment(uow, cipher, settings, owner, "me"))
    await db.transact(
        lambda uow: two_factor.confirm_enrolment(
            uow, cipher, settings, owner, pyotp.TOTP(enrolment.secret).at(clock.now())
        )
    )
    for expected in (InvalidCode, InvalidCode, TwoFactorLocked):
        with pytest.raises(expected):
            await two_factor.attempt(db, lambda uow: two_factor.verify(uow, cipher, settings, owner, "000000"))
    actions = await db.transact(_actions, readonly=True)
    assert actions == ["2fa.passed", "2fa.failed", "2fa.failed", "2fa.locked"]
    checked = await db.transact(audit.verify, readonly=True)
    assert checked.whole and checked.rows == 4


async def test_writers_at_once_make_one_chain(db: Database) -> None:
    await asyncio.gather(
        *(db.transact(lambda uow, n=n: audit.record(uow, "system", "test.event", n)) for n in range(20))
    )
    checked = await db.transact(audit.verify, readonly=True)
    assert checked.whole and checked.rows == 20


async def test_the_database_refuses_to_change_or_delete_an_event(db: Database) -> None:
    await db.transact(lambda uow: audit.record(uow, "user:1", "withdrawal.requested", "w1", amount=Decimal(10)))
    for statement in ("UPDATE audit_log SET actor = 'someone else'", "DELETE FROM audit_log"):
        with pytest.raises((IntegrityError, DBAPIError)):
            await db.transact(lambda uow, s=statement: _execute(uow, s))
    assert (await db.transact(audit.verify, readonly=True)).whole


async def test_verify_finds_an_edited_event_and_one_cut_off_the_end(db: Database) -> None:
    for n in range(5):
        await db.transact(lambda uow, n=n: audit.record(uow, "admin:7", "withdrawal.approved", f"w{n}", why="ok"))
    await db.transact(lambda uow: _without_guard(uow))  # what someone with the database's keys could do
    await db.transact(lambda uow: _execute(uow, "UPDATE audit_log SET actor = 'admin:8' WHERE seq = 3"))
    edited = await db.transact(audit.verify, readonly=True)
    assert (edited.whole, edited.broken_at, edited.rows) == (False, 3, 2)

    await db.transact(lambda uow: _execute(uow, "UPDATE audit_log SET actor = 'admin:7' WHERE seq = 3"))
    assert (await db.transact(audit.verify, readonly=True)).whole  # put back as it was
    await db.transact(lambda uow: _execute(uow, "DELETE FROM audit_log WHERE seq = 5"))
    cut = await db.transact(audit.verify, readonly=True)
    assert (cut.whole, cut.broken_at) == (False, 5)


async def test_a_keyed_chain_cannot_be_rewritten_without_the_key(db: Database, clock: ManualClock) -> None:
    keyed = Database(str(db.engine.url.render_as_string(hide_password=False)), clock=clock, ids=Uuid7Generator(clock),
                     audit_key=b"the operator's audit key")  # fmt: skip
    try:
        await keyed.transact(lambda uow: audit.record(uow, "user:1", "order.placed", "o1", quantity=10))
        await keyed.transact(_without_guard)
        await keyed.transact(_forge_first_as_plain_hash)  # a rewrite that recomputes the hash, without the key
        forged = await keyed.transact(audit.verify, readonly=True)
        assert (forged.whole, forged.broken_at) == (False, 1)
    finally:
        await keyed.dispose()


async def _actions(uow: UnitOfWork) -> list[str]:
    return list((await uow.connection.execute(select(audit.LOG.c.action).order_by(audit.LOG.c.seq))).scalars())


async def _execute(uow: UnitOfWork, statement: str) -> None:
    await uow.connection.execute(text(statement))


async def _without_guard(uow: UnitOfWork) -> None:
    if uow.dialect == "postgresql":
        await _execute(uow, "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only")
    else:
        await _execute(uow, "DROP TRIGGER audit_log_no_update")
        await _execute(uow, "DROP TRIGGER audit_log_no_delete")


async def _forge_first_as_plain_hash(uow: UnitOfWork) -> None:
    row = (await uow.connection.execute(select(audit.LOG).where(audit.LOG.c.seq == 1))).one()
    detail = {"quantity": 1000}  # the forger's change
    content = json.dumps([1, row.at.isoformat(), row.actor, row.action, row.subject, detail], sort_keys=True,
                         separators=(",", ":")).encode()  # fmt: skip
    forged = hashlib.sha256(bytes(32) + content).digest()
    await uow.connection.execute(audit.LOG.update().where(audit.LOG.c.seq == 1).values(detail=detail, hash=forged))
    await uow.connection.execute(audit.HEAD.update().where(audit.HEAD.c.id == 1).values(last_hash=forged))
