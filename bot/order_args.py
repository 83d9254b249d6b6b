"""Reading an order from a command's words: `/buy AAPL 10`, `/buy AAPL 10 limit 189.50`, `/sell AAPL all`,
optionally ending in `gtc` (good till cancelled; orders are for the day otherwise). Pure: no I/O."""

from __future__ import annotations

import re
from dataclasses import dataclass

from broker.order_states import OrderSide, TimeInForce
from core.errors import InvalidCommand

SYMBOL = re.compile(r"[A-Z][A-Z0-9.]{0,9}")
ALL = "all"


@dataclass(frozen=True)
class OrderArgs:
    side: OrderSide
    symbol: str | None  # None: ask for it
    quantity: str | None  # digits, or "all" for a sale; None: ask for it
    limit: str | None = None
    tif: TimeInForce = TimeInForce.DAY


def usage(side: OrderSide) -> str:
    amount = "QUANTITY|all" if side is OrderSide.SELL else "QUANTITY"
    return f"/{side.value} SYMBOL {amount} [limit PRICE] [gtc]"


def parse_order(side: OrderSide, words: list[str]) -> OrderArgs:
    words = [word.strip() for word in words if word.strip()]
    tif = TimeInForce.DAY
    if words and words[-1].lower() == "gtc":
        tif, words = TimeInForce.GTC, words[:-1]
    limit = None
    if len(words) >= 2 and words[-2].lower() in ("limit", "at", "@"):
        limit, words = words[-1].lstrip("$"), words[:-2]
        if not re.fullmatch(r"\d{1,7}(\.\d{1,4})?", limit):
            raise InvalidCommand(f"the limit price {limit!r} is not a price", usage(side))
    if len(words) > 2:
        raise InvalidCommand("there are words I cannot place", usage(side))
    symbol = words[0].upper().lstrip("$") if words else None
    if symbol is not None and not SYMBOL.fullmatch(symbol):
        raise InvalidCommand(f"{words[0]!r} is not a share symbol", usage(side))
    quantity = words[1].lower() if len(words) > 1 else None
    whole = quantity is not None and quantity.isascii() and quantity.isdigit()
    if quantity is not None and not (whole or (quantity == ALL and side is OrderSide.SELL)):
        raise InvalidCommand(f"{words[1]!r} is not a number of shares", usage(side))
    if quantity is not None and quantity != ALL and not 0 < int(quantity) <= 1_000_000:
        raise InvalidCommand("the number of shares must be between 1 and 1,000,000", usage(side))
    if limit is not None and quantity is None:
        raise InvalidCommand("a limit order needs a number of shares", usage(side))
    return OrderArgs(side, symbol, quantity, limit, tif)
