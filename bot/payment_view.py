"""What payments push to the investor: a deposit credited, a bank account added (a security notice), and each
step of a withdrawal."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .render import esc, usd


def payment_note(topic: str, payload: dict[str, Any]) -> str | None:
    """The message a payments fact becomes for the investor it names (None: nothing to say)."""
    amount = usd(Decimal(payload.get("amount", "0")))
    reason = f" ({esc(payload['reason'])})" if payload.get("reason") else ""
    texts = {
        "payments.deposit_credited": (
            f"<b>Deposit received:</b> {amount} is in your account. You can trade with it now; it can be "
            f"withdrawn from {esc(payload.get('withdrawable_on', ''))}."
        ),
        "security.bank_added": (
            f"A bank account was added to your profile: {esc(payload.get('bank', ''))}. It can receive "
            "withdrawals after the cooldown. If this was not you, lock your account with /lock and contact support."
        ),
        "payments.withdrawal_pending_review": f"Your withdrawal of {amount} is waiting for a review.",
        "payments.withdrawal_approved": f"Your withdrawal of {amount} is approved.",
        "payments.withdrawal_submitted": f"Your withdrawal of {amount} was sent to your bank.",
        "payments.withdrawal_settled": f"<b>Your withdrawal of {amount} was paid.</b>",
        "payments.withdrawal_rejected": f"Your withdrawal of {amount} was refused{reason}. The money is back.",
        "payments.withdrawal_failed": f"Your withdrawal of {amount} failed{reason}. The money is back.",
        "payments.withdrawal_returned": f"Your bank returned your withdrawal of {amount}{reason}. The money is back.",
    }
    return texts.get(topic)
