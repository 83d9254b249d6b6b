"""The daily summary as the investor reads it."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from .render import esc, shares, usd


def report_note(topic: str, payload: dict[str, Any]) -> str | None:
    if topic != "report.daily":
        return None
    lines = [f"<b>Your day, {date.fromisoformat(payload['day']):%a %d %b}</b>"]
    if payload.get("equity") is not None:
        value = f"Value {usd(Decimal(payload['equity']))}"
        if payload.get("pnl") is not None:
            pct = f" ({Decimal(payload['pct']):+.2f}%)" if payload.get("pct") is not None else ""
            value += f", today {'+' if Decimal(payload['pnl']) >= 0 else ''}{usd(Decimal(payload['pnl']))}{pct}"
        lines.append(value)
    fills = payload.get("fills") or []
    for fill in fills[:10]:
        verb = "Bought" if fill["side"] == "buy" else "Sold"
        quantity, cash = Decimal(fill["quantity"]), abs(Decimal(fill["cash"]))
        lines.append(f"{verb} {shares(quantity)} {esc(fill['symbol'])} for {usd(cash)}")
    if len(fills) > 10:
        lines.append(f"and {len(fills) - 10} more fills: /history shows them")
    if not fills:
        lines.append("No trades today.")
    if payload.get("alerts"):
        lines.append(f"Price alerts that fired: {payload['alerts']}")
    return "\n".join(lines)
