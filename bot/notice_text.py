"""What the notifier's messages say: an order's step pushed as a message of its own, a margin call, and the
facts each family's view renders (copy trading, payments, the price watch, reports, the admins' notices)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from .admin_view import account_note, admin_note
from .alert_view import alert_note, risk_note
from .copy_view import copy_note
from .order_view import status_text
from .payment_view import payment_note
from .render import esc, shares, usd
from .report_view import report_note

NOTES = {
    "copy": copy_note,
    "payments": payment_note,
    "security": payment_note,  # a bank account added: the one security notice so far
    "alert": alert_note,
    "risk": risk_note,
    "report": report_note,
    "admin": admin_note,
    "account": account_note,
}


def note_text(topic: str, payload: dict[str, Any]) -> str | None:
    """A fact that is one message of its own (copy trading's, payments', the price watch's, the admins', an
    account review's), rendered by its family's view."""
    render = NOTES.get(topic.partition(".")[0])
    return None if render is None else render(topic, payload)


def pushed_text(topic: str, payload: dict[str, Any], symbol: str) -> str:
    """The message of its own an order's step gets (a fill, an end), as the investor reads it."""
    if topic == "order.filled":
        verb = "Bought" if payload["side"] == "buy" else "Sold"
        quantity, price = Decimal(payload["quantity"]), Decimal(payload["price"])
        left = Decimal(payload["ordered"]) - Decimal(payload["filled"])
        rest = f" {shares(left)} still to go." if left else " Your order is complete."
        copied = "Copy trade: " if payload.get("sleeve_id") else ""
        return (
            f"{copied}<b>{verb} {shares(quantity)} {esc(symbol)}</b> at {usd(price)} "
            f"(commission {usd(Decimal(payload['commission']))}).{rest}"
        )
    return status_text(payload, symbol)


def breach_text(payload: dict[str, Any]) -> str:
    """A margin call, as the investor reads it."""
    return (
        "<b>Margin call</b>: your equity "
        f"{usd(Decimal(payload['equity']))} is below the maintenance requirement "
        f"{usd(Decimal(payload['maintenance_requirement']))}. Please deposit cash or sell shares to cover "
        f"{usd(-Decimal(payload['excess_liquidity']))}."
    )
