"""The one place where a business refusal (a DomainError) becomes what the investor reads: short, polite, and
naming what was wrong and what to do. Unknown refusals fall back to their own wording."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC
from typing import Any

from core import errors

from .render import esc, usd

_Explain = Callable[[Any], str]

_TEXTS: dict[type[errors.OmnibotError], _Explain] = {
    errors.BrokerUnavailable: lambda e: "The connection to the broker is down right now. Please try again shortly.",
    errors.TwoFactorNotEnrolled: lambda e: "You need two-factor authentication first: send /2fa to set it up.",
    errors.InvalidCode: lambda e: (
        f"That code is wrong or was already used. {e.attempts_left} attempts left before a lock."
    ),
    errors.TwoFactorLocked: lambda e: (
        f"Too many wrong codes. Two-factor is locked until {e.until.astimezone(UTC):%H:%M} UTC."
    ),
    errors.SessionLocked: lambda e: "Trading is locked. Send the 6-digit code from your authenticator app to unlock.",
    errors.ActionUnavailable: lambda e: "This button has expired or was already used. Nothing was done.",
    errors.OnboardingAnswerRefused: lambda e: f"Sorry, {esc(e.problem)}.",
    errors.CopyRefused: lambda e: f"Sorry, {esc(e.problem)}.",
    errors.PaymentRefused: lambda e: f"Sorry, {esc(e.problem)}.",
    errors.AlertRefused: lambda e: f"Sorry, {esc(e.problem)}.",
    errors.NotFound: lambda e: f"Sorry, I could not find that {esc(e.what)}: it has ended, or it is not yours.",
    errors.InvalidCommand: lambda e: f"Sorry, {esc(e.problem)}. Write it as: <code>{esc(e.usage)}</code>",
    errors.InvalidPersonalData: lambda e: f"Sorry: {esc('; '.join(e.problems))}.",
    errors.AccountNotActive: lambda e: f"Your account is {esc(e.status.replace('_', ' '))}, so it cannot trade yet.",
    errors.TradingHalted: lambda e: (
        f"Trading in {esc(e.symbol)} is halted: {esc(e.reason)}."
        if e.symbol
        else f"Trading is halted: {esc(e.reason)}."
    ),
    errors.InsufficientBuyingPower: lambda e: (
        f"Not enough buying power: the order needs {usd(e.needed)} and you have {usd(e.available)}."
    ),
    errors.TooManyOrders: lambda e: f"Too many orders in a minute. Try again in {e.retry_after_seconds} s.",
}


def explain(error: errors.DomainError | errors.BrokerUnavailable) -> str:
    for kind in type(error).__mro__:
        text = _TEXTS.get(kind)
        if text is not None:
            return text(error)
    wording = str(error)
    return esc(wording[:1].upper() + wording[1:] + ("" if wording.endswith(".") else "."))
