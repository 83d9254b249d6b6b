"""/2fa (enrol with a QR code, confirmed by a first code), /unlock and /lock of the trading session, and a bare
6-digit code, which confirms a pending enrolment, or what waits for a fresh code (a follow, a bank account, a
withdrawal), or unlocks trading."""

from __future__ import annotations

import io
import re

import qrcode
from telegram import Update

from core import two_factor
from core.users import Role, UserRecord

from ..context import BotContext
from ..render import esc
from . import admin_actions, banking, following, trading

CODE = re.compile(r"\d{6}")


async def enrol(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Set up two-factor; moving it to a new device needs a current code (/2fa 123456)."""
    assert user is not None
    message = update.effective_message
    assert message is not None
    services = context.services
    code = " ".join(context.args or [])
    if await services.db.transact(lambda uow: two_factor.is_enrolled(uow, user.id), readonly=True):
        if not code:
            await message.reply_text(
                "Two-factor is already on. To move it to a new device, send /2fa followed by a current code."
            )
            return
        await two_factor.attempt(
            services.db, lambda uow: two_factor.verify(uow, services.cipher, services.settings, user.id, code)
        )
    label = (
        update.effective_user.username
        if update.effective_user and update.effective_user.username
        else str(user.telegram_id)
    )
    enrolment = await services.db.transact(
        lambda uow: two_factor.begin_enrolment(uow, services.cipher, services.settings, user.id, label)
    )
    await message.reply_photo(
        _qr_png(enrolment.uri),
        caption=(
            "Scan this code with an authenticator app (Google Authenticator, Authy, 1Password...), or type in the "
            f"key <code>{esc(enrolment.secret)}</code>.\n\nThen send me the 6-digit code the app shows. "
            "Delete this message afterwards: the code is your second key."
        ),
    )


async def unlock(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Unlock trading for a while with a code: /unlock 123456."""
    assert user is not None
    message = update.effective_message
    assert message is not None
    code = " ".join(context.args or [])
    if not code:
        await message.reply_text("Send /unlock followed by the 6-digit code from your authenticator app.")
        return
    await _unlock(update, context, user, code)


async def lock(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Lock trading now."""
    assert user is not None
    assert update.effective_message is not None
    await context.services.db.transact(lambda uow: two_factor.lock_session(uow, user.id))
    await update.effective_message.reply_text("Trading is locked. Send a code from your app to unlock it again.")


async def on_code(update: Update, context: BotContext, user: UserRecord, code: str) -> None:
    """A bare code: it confirms the enrolment waiting for one, or else unlocks trading."""
    services = context.services
    message = update.effective_message
    assert message is not None
    if await services.db.transact(lambda uow: two_factor.enrolment_pending(uow, user.id), readonly=True):
        await two_factor.attempt(
            services.db,
            lambda uow: two_factor.confirm_enrolment(uow, services.cipher, services.settings, user.id, code),
        )
        await message.reply_text("Two-factor is on. Trading and withdrawals will ask you for a code.")
        return
    if user.role is Role.ADMIN and await admin_actions.is_waiting(context, user):  # an admin's action
        await admin_actions.confirm_with_code(update, context, user, code)
        return
    if await following.is_waiting(context, user):  # a follow to confirm with a fresh code
        await following.confirm_with_code(update, context, user, code)
        return
    if (waiting := await banking.waiting_for_code(context, user)) is not None:  # a bank account, a withdrawal
        await banking.confirm_with_code(update, context, user, waiting, code)
        return
    await _unlock(update, context, user, code)
    await trading.after_unlock(update, context, user)


async def _unlock(update: Update, context: BotContext, user: UserRecord, code: str) -> None:
    services = context.services
    until = await two_factor.attempt(
        services.db, lambda uow: two_factor.unlock_session(uow, services.cipher, services.settings, user.id, code)
    )
    assert update.effective_message is not None
    minutes = services.settings.totp_session_minutes
    await update.effective_message.reply_text(
        f"Trading is unlocked for {minutes} minutes (until {until:%H:%M} UTC). Send /lock to lock it sooner."
    )


def _qr_png(uri: str) -> bytes:
    image = qrcode.make(uri, box_size=8, border=2)
    buffer = io.BytesIO()
    image.save(buffer)
    return buffer.getvalue()
