"""What the platform tells its admins, unasked: a reconciliation break, money in suspense, a withdrawal or a
leader waiting for a review. Each admin gets their own copy (bot/notifier.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from .render import esc, usd


def account_note(topic: str, payload: dict[str, Any]) -> str | None:
    """What an investor is told of an admin's review of their account."""
    reason = f" ({esc(payload['reason'])})" if payload.get("reason") else ""
    texts = {
        "account.kyc_approve": "<b>Your account is open.</b> You can deposit and trade now. Send /help to start.",
        "account.kyc_reject": f"Your account could not be approved{reason}. Send /start to go through it again.",
        "account.freeze": f"Your account is frozen{reason}. Please contact support.",
        "account.unfreeze": "Your account is active again.",
    }
    return texts.get(topic)


def admin_note(topic: str, payload: dict[str, Any]) -> str | None:
    if topic == "admin.reconciliation_break":
        return (
            f"<b>Reconciliation break</b> ({esc(payload.get('kind', ''))} {esc(payload.get('key', ''))}): "
            f"{esc(payload.get('note', ''))}. Books {esc(payload.get('books', ''))}, IB {esc(payload.get('ib', ''))}."
        )
    amount = usd(Decimal(payload.get("amount", "0")))
    if topic == "admin.deposit_suspense":
        return f"Money in suspense: {amount} matched no investor ({esc(payload.get('transfer_id', ''))})."
    if topic == "admin.withdrawal_review":
        return f"A withdrawal of {amount} waits for a review ({esc(payload.get('withdrawal_id', ''))})."
    if topic == "admin.leader_pending":
        return f"Leader profile <b>{esc(payload.get('alias', ''))}</b> waits for approval."
    if topic == "admin.broker_down":
        detail = f": {esc(payload['detail'])}" if payload.get("detail") else ""
        return f"<b>The IB connection is down</b> since {_at(payload['since'])} ({esc(payload['state'])}){detail}."
    if topic == "admin.broker_up":
        return f"The IB connection is back (it was down since {_at(payload['since'])})."
    return None


def _at(moment: str) -> str:
    return f"{datetime.fromisoformat(moment).astimezone(UTC):%H:%M:%S} UTC"
