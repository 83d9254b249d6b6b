"""The second factor: enrolment confirmed by a first code, a code accepted once only, one step of drift either
way, and a lockout after repeated wrong codes."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

from core import two_factor
from core.clock import ManualClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database
from core.errors import InvalidCode, TwoFactorLocked, TwoFactorNotEnrolled
from tests.support import new_investor

SETTINGS = Settings(totp_max_failures=3, totp_lockout_minutes=15)


async def test_enrol_verify_once_and_lock_out(db: Database, clock: ManualClock, cipher: FieldCipher) -> None:
    owner = await new_investor(db)
    with pytest.raises(TwoFactorNotEnrolled):
        await db.transact(lambda uow: two_factor.verify(uow, cipher, SETTINGS, owner, "123456"))
    enrolment = await db.transact(lambda uow: two_factor.begin_enrolment(uow, cipher, SETTINGS, owner, "alice"))
    assert enrolment.uri.startswith("otpauth://totp/Omnibot:alice?secret=")
    assert not await db.transact(lambda uow: two_factor.is_enrolled(uow, owner))
    totp = pyotp.TOTP(enrolment.secret)
    await db.transact(lambda uow: two_factor.confirm_enrolment(uow, cipher, SETTINGS, owner, totp.at(clock.now())))
    assert await db.transact(lambda uow: two_factor.is_enrolled(uow, owner))

    clock.advance(timedelta(seconds=60))
    late = totp.at(clock.now() - timedelta(seconds=30))  # one step old: still accepted
    await db.transact(lambda uow: two_factor.verify(uow, cipher, SETTINGS, owner, late))
    with pytest.raises(InvalidCode):  # the same code again: a replay
        await db.transact(lambda uow: two_factor.verify(uow, cipher, SETTINGS, owner, late))

    clock.advance(timedelta(seconds=60))

    async def wrong(uow: object) -> None:
        try:
            await two_factor.verify(uow, cipher, SETTINGS, owner, "000000")  # type: ignore[arg-type]
        finally:
            await uow.commit()  # type: ignore[attr-defined]  # a refused code still counts

    for _ in range(2):
        with pytest.raises(InvalidCode):
            await db.transact(wrong)
    with pytest.raises(TwoFactorLocked):
        await db.transact(wrong)  # the third: locked from now on
    good = totp.at(clock.now())
    with pytest.raises(TwoFactorLocked):
        await db.transact(lambda uow: two_factor.verify(uow, cipher, SETTINGS, owner, good))
    clock.advance(timedelta(minutes=15, seconds=30))
    await db.transact(lambda uow: two_factor.verify(uow, cipher, SETTINGS, owner, totp.at(clock.now())))
