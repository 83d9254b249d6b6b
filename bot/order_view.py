"""How an order looks in the chat: its preview before confirmation, and its status line as it moves."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from broker.order_requests import OrderPreview
from broker.order_states import OrderSide, OrderStatus

from .render import esc, shares, usd

STATUS_WORDS = {
    OrderStatus.NEW: "Sent, waiting for the market",
    OrderStatus.SUBMITTED: "Submitted to the exchange",
    OrderStatus.PARTIALLY_FILLED: "Partially filled",
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELLED: "Cancelled",
    OrderStatus.REJECTED: "Rejected",
    OrderStatus.EXPIRED: "Expired",
}


def headline(side: OrderSide, quantity: Decimal, symbol: str, limit: Decimal | None) -> str:
    verb = "Buy" if side is OrderSide.BUY else "Sell"
    how = f"limit {usd(limit)}" if limit is not None else "at market"
    return f"<b>{verb} {shares(quantity)} {esc(symbol)}</b> {how}"


def preview_text(preview: OrderPreview) -> str:
    quote = preview.quote
    lines = [headline(preview.side, preview.quantity, preview.contract.symbol, preview.limit)]
    prices = [
        f"{name} {usd(value)}"
        for name, value in (("bid", quote.bid), ("ask", quote.ask), ("last", quote.last))
        if value
    ]
    if prices:
        lines.append(f"Quote: {', '.join(prices)}{' (delayed)' if quote.delayed else ''}")
    if preview.side is OrderSide.BUY:
        lines.append(f"Set aside: {usd(preview.amount)} (price {usd(preview.price)}, with room for the market moving)")
    else:
        lines.append(f"Expected proceeds: about {usd(preview.amount)} at {usd(preview.price)}")
    lines.append(f"Commission: at most {usd(preview.commission)}")
    lines.append(f"Buying power: {usd(preview.buying_power_before)} → {usd(preview.buying_power_after)}")
    return "\n".join(lines)


def status_text(payload: dict[str, Any], symbol: str) -> str:
    """The order's message once sent, from an outbox fact (order.submitted, order.filled, ...)."""
    side, status = OrderSide(payload["side"]), OrderStatus(payload["status"])
    ordered, filled = Decimal(payload["ordered"]), Decimal(payload["filled"])
    limit = payload.get("limit_price")
    lines = [headline(side, ordered, symbol, Decimal(limit) if limit else None)]
    state = STATUS_WORDS[status]
    if filled and status is not OrderStatus.FILLED:
        state += f": {shares(filled)} of {shares(ordered)}"
    lines.append(f"Status: {state}")
    if filled and payload.get("average_price"):
        lines.append(
            f"Average price: {usd(Decimal(payload['average_price']))}, commission {usd(Decimal(payload['commission']))}"
        )
    if payload.get("reason") and status in (OrderStatus.REJECTED, OrderStatus.EXPIRED, OrderStatus.CANCELLED):
        lines.append(f"Why: {esc(payload['reason'])}")
    return "\n".join(lines)
