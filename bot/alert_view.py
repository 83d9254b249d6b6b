"""Price alerts and protective orders as the investor reads them: one line each for /alerts, and the notes the
price watch pushes (an alert fired, a protective order sold or failed)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from alerts.engine import Protective
from alerts.models import ProtectKind
from alerts.rules import Condition, PriceAlert

from .render import esc, shares, usd


def alert_line(alert: PriceAlert) -> str:
    if alert.condition is Condition.MOVE:
        assert alert.reference is not None
        what = f"moves {alert.level.normalize():f}% from {usd(alert.reference)}"
    else:
        what = f"{alert.condition.value} {usd(alert.level)}"
    again = f", repeating (at most every {cooldown(alert.cooldown)})" if alert.repeat else ""
    return f"{esc(alert.symbol)} {what}{again}"


def protective_line(order: Protective) -> str:
    amount = "all shares" if order.quantity is None else f"{shares(order.quantity)} shares"
    when = "at or below" if order.kind is ProtectKind.STOP else "at or above"
    return f"{order.kind.value.title()}: sell {amount} of {esc(order.symbol)} {when} {usd(order.trigger)}"


def cooldown(span: timedelta) -> str:
    minutes = int(span.total_seconds() // 60)
    if minutes % (24 * 60) == 0:
        return f"{minutes // (24 * 60)} d"
    return f"{minutes // 60} h" if minutes % 60 == 0 else f"{minutes} min"


def alert_note(topic: str, payload: dict[str, Any]) -> str | None:
    symbol = esc(payload.get("symbol", ""))
    if topic == "alert.price":
        price = Decimal(payload["price"])
        now = usd(price)
        if payload["condition"] == Condition.MOVE.value:
            reference = Decimal(payload["reference"])
            change = (price - reference) / reference * 100
            text = f"<b>{symbol}</b> moved {change:+.1f}% to {now} (from {usd(reference)})."
        else:
            text = f"<b>{symbol}</b> is at {now}: {payload['condition']} your {usd(Decimal(payload['level']))}."
        return "Price alert: " + text + ("" if payload.get("repeat") else " This alert is now done.")
    if topic == "alert.protective_sold":
        return (
            f"<b>Your {payload['kind']} on {symbol} was hit</b> ({usd(Decimal(payload['trigger']))}): "
            f"selling {shares(Decimal(payload['quantity']))} shares at market."
        )
    if topic == "alert.protective_failed":
        return (
            f"Your {payload['kind']} on {symbol} was hit ({usd(Decimal(payload['trigger']))}), but nothing was "
            f"sold: {esc(payload['note'])}."
        )
    return None


def risk_note(topic: str, payload: dict[str, Any]) -> str | None:
    if topic == "risk.drawdown":
        return (
            f"<b>Your account fell {esc(payload['pct'])}% today</b>: it is worth {usd(Decimal(payload['equity']))}, "
            f"from {usd(Decimal(payload['from']))} (money you moved in or out taken out). /portfolio shows why."
        )
    if topic == "risk.liquidated":
        sold = ", ".join(f"{shares(Decimal(s['quantity']))} {esc(s['symbol'])}" for s in payload["sales"])
        return (
            "<b>Margin call: positions sold.</b> Your account stayed below its maintenance requirement past the "
            f"deadline, so the house is selling at market: {sold or 'nothing could be sold'}."
        )
    return None
