"""Replies as Telegram HTML: escaped, amounts formatted alike everywhere, long texts split below the limit."""

from __future__ import annotations

import html
from decimal import Decimal

LIMIT = 4096


def esc(text: object) -> str:
    return html.escape(str(text), quote=False)


def usd(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount).quantize(Decimal('0.01')):,}"


def shares(quantity: Decimal) -> str:
    """A number of shares: whole ones without decimals (the ledger stores ten places)."""
    if quantity == quantity.to_integral_value():
        return f"{quantity:,.0f}"
    return f"{quantity.normalize():,f}"


def chunks(text: str, limit: int = LIMIT) -> list[str]:
    """The text in pieces under the limit, cut at line ends (a line is never cut inside a tag: lines are whole)."""
    pieces, current = [], ""
    for line in text.splitlines(keepends=True):
        if current and len(current) + len(line) > limit:
            pieces.append(current)
            current = ""
        current += line
    return [*pieces, current] if current else pieces
