"""The second factor: TOTP (RFC 6238, 30-second steps, 6 digits) with pyotp.

Enrolment is two steps: `begin_enrolment` makes a secret (stored sealed) and the otpauth URI for the
authenticator app; `confirm_enrolment` checks a first code and only then marks the user enrolled. A code is
accepted one step either side of now (clock drift), and once only: the step it was used at is remembered, so a
code seen over a shoulder or replayed cannot be used again. After `totp_max_failures` wrong codes in a row the
factor locks for `totp_lockout_minutes`; a right code resets the count.

Trading asks for a session: a right code (`unlock_session`) opens one for `totp_session_minutes`; `lock_session`
ends it. A refused code must still be committed, so that the failure counts: `attempt` runs a check so.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar
from uuid import UUID

import pyotp
from sqlalchemy import select

from core import audit
from core.config import Settings
from core.crypto import FieldCipher, FieldRef
from core.db import Database, UnitOfWork
from core.errors import InvalidCode, SecondFactorRefusal, SessionLocked, TwoFactorLocked, TwoFactorNotEnrolled
from core.models import TwoFactor

T = TypeVar("T")
STEP_SECONDS = 30
WINDOW_STEPS = 1


@dataclass(frozen=True)
class Enrolment:
    secret: str  # base32, to type in by hand
    uri: str  # otpauth://, for the QR code


async def begin_enrolment(
    uow: UnitOfWork, cipher: FieldCipher, settings: Settings, user_id: UUID, label: str
) -> Enrolment:
    """A new secret for the user, replacing any earlier one; not in force until confirmed."""
    secret = pyotp.random_base32()
    row = await _load(uow, user_id)
    now = uow.clock.now()
    sealed = cipher.keyring.seal(secret, _where(user_id))
    if row is None:
        uow.session.add(TwoFactor(user_id=user_id, secret=sealed, failures=0, updated_at=now))
    else:
        row.secret, row.enrolled_at, row.last_step, row.failures, row.locked_until = sealed, None, None, 0, None
        row.updated_at = now
    await uow.session.flush()
    uri = pyotp.TOTP(secret, interval=STEP_SECONDS).provisioning_uri(name=label, issuer_name=settings.totp_issuer)
    return Enrolment(secret, uri)


async def confirm_enrolment(uow: UnitOfWork, cipher: FieldCipher, settings: Settings, user_id: UUID, code: str) -> None:
    row = await _load(uow, user_id, for_update=True)
    if row is None:
        raise TwoFactorNotEnrolled(user_id)
    await _checked(uow, row, cipher, settings, code, "enrolment")
    row.enrolled_at = uow.clock.now()
    await uow.session.flush()


async def verify(uow: UnitOfWork, cipher: FieldCipher, settings: Settings, user_id: UUID, code: str) -> None:
    """Accept the code or raise (InvalidCode, TwoFactorLocked, TwoFactorNotEnrolled). The caller commits even
    when a code is refused, so that the failure counts."""
    row = await _load(uow, user_id, for_update=True)
    if row is None or row.enrolled_at is None:
        raise TwoFactorNotEnrolled(user_id)
    await _checked(uow, row, cipher, settings, code, "code")
    await uow.session.flush()


async def attempt(db: Database, check: Callable[[UnitOfWork], Awaitable[T]]) -> T:
    """Run a unit of work that checks a code, committing it even when the code is refused (so that the failure
    counts towards the lockout), then raise the refusal."""
    refusal: SecondFactorRefusal | None = None

    async def work(uow: UnitOfWork) -> T | None:
        nonlocal refusal
        try:
            return await check(uow)
        except SecondFactorRefusal as refused:
            refusal = refused
            return None

    result = await db.transact(work)
    if refusal is not None:
        raise refusal
    return result  # type: ignore[return-value]  # not None: the check passed


async def unlock_session(
    uow: UnitOfWork, cipher: FieldCipher, settings: Settings, user_id: UUID, code: str
) -> datetime:
    """Check the code and open a trading session; when it ends."""
    await verify(uow, cipher, settings, user_id, code)
    row = await _load(uow, user_id, for_update=True)
    assert row is not None
    row.session_until = uow.clock.now() + timedelta(minutes=settings.totp_session_minutes)
    await uow.session.flush()
    return row.session_until


async def lock_session(uow: UnitOfWork, user_id: UUID) -> None:
    row = await _load(uow, user_id, for_update=True)
    if row is not None and row.session_until is not None:
        row.session_until = None
        await uow.session.flush()


async def require_session(uow: UnitOfWork, user_id: UUID) -> None:
    """TwoFactorNotEnrolled (there is no code to ask for), or SessionLocked unless the user has a trading
    session open now."""
    row = await _load(uow, user_id)
    if row is None or row.enrolled_at is None:
        raise TwoFactorNotEnrolled(user_id)
    if row.session_until is None or row.session_until <= uow.clock.now():
        raise SessionLocked(user_id)


async def enrolment_pending(uow: UnitOfWork, user_id: UUID) -> bool:
    """A secret was handed out and its first code has not come yet."""
    row = await _load(uow, user_id)
    return row is not None and row.enrolled_at is None


async def is_enrolled(uow: UnitOfWork, user_id: UUID) -> bool:
    row = await _load(uow, user_id)
    return row is not None and row.enrolled_at is not None


async def _checked(
    uow: UnitOfWork, row: TwoFactor, cipher: FieldCipher, settings: Settings, code: str, what: str
) -> None:
    """Check the code, and put the outcome in the audit trail (a refusal too: the caller commits it)."""
    actor = f"user:{row.user_id}"
    try:
        _check(row, cipher, settings, uow.clock.now(), code)
    except TwoFactorLocked as locked:
        await audit.record(uow, actor, "2fa.locked", row.user_id, what=what, until=locked.until)
        raise
    except InvalidCode as wrong:
        await audit.record(uow, actor, "2fa.failed", row.user_id, what=what, left=wrong.attempts_left)
        raise
    await audit.record(uow, actor, "2fa.passed", row.user_id, what=what)


def _check(row: TwoFactor, cipher: FieldCipher, settings: Settings, now: datetime, code: str) -> None:
    if row.locked_until is not None and now < row.locked_until:
        raise TwoFactorLocked(row.locked_until)
    secret = cipher.keyring.open(row.secret, _where(row.user_id))
    step = _matching_step(secret, code.strip(), now)
    row.updated_at = now
    if step is None or (row.last_step is not None and step <= row.last_step):
        row.failures += 1
        if row.failures >= settings.totp_max_failures:
            row.failures, row.locked_until = 0, now + timedelta(minutes=settings.totp_lockout_minutes)
            raise TwoFactorLocked(row.locked_until)
        raise InvalidCode(attempts_left=settings.totp_max_failures - row.failures)
    row.last_step, row.failures, row.locked_until = step, 0, None


def _matching_step(secret: str, code: str, now: datetime) -> int | None:
    """The time step the code belongs to, within the window, or None."""
    if not (code.isdigit() and len(code) == 6):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now.timestamp()) // STEP_SECONDS
    for step in range(current - WINDOW_STEPS, current + WINDOW_STEPS + 1):
        if pyotp.utils.strings_equal(totp.at(step * STEP_SECONDS), code):
            return step
    return None


def _where(user_id: UUID) -> FieldRef:
    return FieldRef(TwoFactor.__tablename__, "secret", str(user_id))


async def _load(uow: UnitOfWork, user_id: UUID, *, for_update: bool = False) -> TwoFactor | None:
    query = select(TwoFactor).where(TwoFactor.user_id == user_id)
    if for_update:
        query = query.with_for_update()
    return (await uow.session.scalars(query)).one_or_none()
