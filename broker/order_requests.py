"""What a caller asks of `Trading` and what it answers before an order exists: the order request (validated
by Trading), the preview of its effect, and the market facts Trading needs (the port a broker fills)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from .events import Contract, Quote
from .order_states import OrderSide, TimeInForce


class Market(Protocol):
    async def qualify(self, symbol: str) -> Contract | None: ...
    async def quote(self, con_id: int) -> Quote: ...


@dataclass(frozen=True)
class OrderRequest:
    owner_id: UUID
    client_key: str  # the caller's idempotency key (a Telegram callback's pending action, say)
    symbol: str
    side: OrderSide
    quantity: object  # validated here: a positive whole number of shares
    limit_price: object | None = None  # None: a market order
    tif: TimeInForce = TimeInForce.DAY


@dataclass(frozen=True)
class OrderPreview:
    contract: Contract
    quote: Quote
    side: OrderSide
    quantity: Decimal
    limit: Decimal | None
    price: Decimal  # the limit, or the price a market order is expected at (ask for a buy, bid for a sale)
    amount: Decimal  # a buy: the cash set aside (price with buffer, commission); a sale: the expected proceeds
    commission: Decimal  # estimated, an upper bound
    buying_power_before: Decimal
    buying_power_after: Decimal
