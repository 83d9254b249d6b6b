"""/start and onboarding (terms, personal data, risk questionnaire), and /profile."""

from __future__ import annotations

from typing import Any

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from core import admins, onboarding, two_factor, user_service
from core.db import UnitOfWork
from core.errors import OnboardingAnswerRefused
from core.onboarding import QUESTIONNAIRE, Step
from core.users import Role, UserRecord, UserStatus

from .. import notifier
from ..context import BotContext
from ..render import esc

TERMS = (
    "<b>Welcome to Omnibot</b>\n\n"
    "Omnibot lets you buy and sell US shares from this chat. Your orders go to Interactive Brokers through the "
    "platform's account, and Omnibot keeps your own books: your cash, shares, orders and results.\n\n"
    "Investing in shares can lose money, including all of it. Past results say nothing of the future. "
    "Margin (borrowing to invest) can lose more than you put in.\n\n"
    "Tap <b>I accept</b> to accept the terms of service and the risk disclosure, and to open your account."
)
PROMPTS = {
    Step.NAME: "What is your full name, as on your ID?",
    Step.EMAIL: "What is your email address?",
    Step.COUNTRY: "Which country do you live in? Please send its two-letter code, such as US, GB or DE.",
}


async def start(update: Update, context: BotContext, _user: UserRecord | None) -> None:
    """Open an account, or pick up onboarding where it stopped."""
    sender = update.effective_user
    assert sender is not None
    assert update.effective_message is not None
    settings = context.services.settings

    async def begin(uow: UnitOfWork) -> onboarding.Progress:
        await notifier.unblocked(uow, sender.id)  # writing again: they can be written to
        progress = await onboarding.begin(uow, sender.id, sender.language_code or "en")
        if sender.id in settings.admin_telegram_ids and progress.user.role is not Role.ADMIN:
            await admins.grant_configured(uow, settings, {sender.id})
        return progress

    progress = await context.services.db.transact(begin)
    await update.effective_message.reply_text(**prompt(progress.step, progress.user))


async def on_button(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """The terms' I accept, or a questionnaire answer: ob:terms, ob:<step>:<choice>."""
    query = update.callback_query
    assert query is not None
    assert query.data is not None
    assert user is not None
    services = context.services
    _prefix, step, *choice = query.data.split(":")
    if step == Step.TERMS:
        next_step = await services.db.transact(lambda uow: onboarding.accept_terms(uow, user.id))
    else:
        progress = await services.db.transact(lambda uow: onboarding.begin(uow, user.telegram_id))
        if progress.step.value != step or not choice:
            raise OnboardingAnswerRefused("that question is already answered")
        next_step = await _answer(context, user, choice[0])
    await query.answer()
    await query.edit_message_reply_markup(None)  # answered: the buttons go
    fresh = await services.db.transact(lambda uow: user_service.get_user(uow, user.id), readonly=True)
    await context.bot.send_message(user.telegram_id, **prompt(next_step, fresh))


async def on_answer(update: Update, context: BotContext, user: UserRecord) -> None:
    """A typed answer to the onboarding question the user is at."""
    assert update.effective_message is not None
    assert update.effective_message.text is not None
    next_step = await _answer(context, user, update.effective_message.text)
    fresh = await context.services.db.transact(lambda uow: user_service.get_user(uow, user.id), readonly=True)
    await update.effective_message.reply_text(**prompt(next_step, fresh))


async def profile(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """The user's details as the platform holds them, and what is left to do."""
    assert user is not None
    assert update.effective_message is not None
    services = context.services

    async def read(uow: Any) -> tuple[Any, bool]:
        data = await user_service.read_personal_data(uow, services.cipher, user.id)
        return data, await two_factor.is_enrolled(uow, user.id)

    data, enrolled = await services.db.transact(read, readonly=True)
    lines = [
        "<b>Your profile</b>",
        f"Name: {esc(data.full_name or '-')}",
        f"Email: {esc(data.email or '-')}",
        f"Country: {esc(data.country or '-')}",
        f"Account: {esc(user.status.value.replace('_', ' '))}",
        f"Two-factor: {'on' if enrolled else 'off (send /2fa)'}",
    ]
    await update.effective_message.reply_text("\n".join(lines))


async def _answer(context: BotContext, user: UserRecord, text: str) -> Step:
    services = context.services
    auto = services.settings.kyc_auto_approve
    return await services.db.transact(lambda uow: onboarding.answer(uow, services.cipher, user.id, text, auto))


def prompt(step: Step, user: UserRecord) -> dict[str, Any]:
    """What to say at this step: the question, with its buttons where it has some."""
    if step is Step.TERMS:
        accept = InlineKeyboardButton("I accept", callback_data="ob:terms")
        return {"text": TERMS, "reply_markup": InlineKeyboardMarkup([[accept]])}
    if step in PROMPTS:
        return {"text": PROMPTS[step]}
    if step in QUESTIONNAIRE:
        question = QUESTIONNAIRE[step]
        buttons = [
            [InlineKeyboardButton(label, callback_data=f"ob:{step.value}:{value}")] for value, label in question.choices
        ]
        return {"text": esc(question.text), "reply_markup": InlineKeyboardMarkup(buttons)}
    if user.status is UserStatus.PENDING_KYC:
        return {"text": "Thank you! Your account is waiting for approval. I will tell you as soon as it is open."}
    return {
        "text": "Your account is open.\n\nNext: send /2fa to protect it with two-factor authentication. "
        "Then /help shows what you can do."
    }
