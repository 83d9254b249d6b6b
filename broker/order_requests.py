"""What a caller asks of `Trading` and what it answers before an order exists: the order request (validated
by Trading) and when a repeated one is the same, the preview of its effect, and the market facts Trading needs
(the port a broker fills, and the instrument it qualifies)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol
from uuid import UUID

from core.errors import IdempotencyConflict, InvalidQuantity
from ledger.instruments import InstrumentRecord

from .events import Contract, Quote
from .order_states import OrderSide, TimeInForce
from .order_store import OrderRecord
from .pricing import whole_shares


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
    sleeve_id: UUID | None = None  # trade a sleeve's cash and shares (a copy's), not the investor's own


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


def same_request(existing: OrderRecord, request: OrderRequest) -> OrderRecord:
    """The order placed before under this key, if this request is the same one again."""
    try:
        same = existing.side is request.side and existing.quantity == whole_shares(request.quantity)
    except InvalidQuantity:
        same = False
    if not same:
        raise IdempotencyConflict(request.client_key)
    return existing


def instrument_of(contract: Contract) -> InstrumentRecord:
    """What the ledger records of the instrument IB qualified."""
    return InstrumentRecord(
        contract.con_id,
        contract.symbol,
        primary_exchange=contract.primary_exchange,
        currency=contract.currency,
        description=contract.description[:200],
    )
