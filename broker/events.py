"""What the one IB connection tells the rest of Omnibot, as plain frozen dataclasses: nothing outside the adapter
sees an ib_async object. Amounts are Decimal, times timezone-aware UTC. Orders are named by our `order_ref`
(the block id sent to IB as orderRef) next to IB's own ids."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum


class ConnectionState(StrEnum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    RECOVERING = "recovering"  # connected; reading IB's executions and orders before new orders may go out
    READY = "ready"
    IB_UNREACHABLE = "ib_unreachable"  # the gateway is up but lost IB (error 1100)


@dataclass(frozen=True, slots=True)
class OrderAcknowledged:
    order_ref: str
    ib_order_id: int
    perm_id: int
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderFilled:
    """One execution with its commission. `replaces` names the execution this one corrects (IB's `.02` after
    `.01`): book the difference, not a second fill."""

    order_ref: str
    exec_id: str
    con_id: int
    symbol: str
    side: str  # BUY or SELL
    quantity: Decimal
    price: Decimal
    commission: Decimal
    cumulative_quantity: Decimal
    at: datetime
    replaces: str | None = None


@dataclass(frozen=True, slots=True)
class OrderCancelled:
    order_ref: str
    ib_order_id: int
    filled: Decimal
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderRejected:
    order_ref: str
    ib_order_id: int
    code: int
    text: str
    at: datetime


@dataclass(frozen=True, slots=True)
class ConnectionChanged:
    state: ConnectionState
    at: datetime
    detail: str = ""


BrokerEvent = OrderAcknowledged | OrderFilled | OrderCancelled | OrderRejected | ConnectionChanged


@dataclass(frozen=True, slots=True)
class Quote:
    con_id: int
    bid: Decimal | None
    ask: Decimal | None
    last: Decimal | None
    close: Decimal | None
    bid_size: Decimal | None
    ask_size: Decimal | None
    delayed: bool
    at: datetime


@dataclass(frozen=True, slots=True)
class Contract:
    con_id: int
    symbol: str
    primary_exchange: str
    currency: str
    description: str


@dataclass(frozen=True, slots=True)
class MarginImpact:
    """IB's what-if answer for an order: Reg T figures before, after and the change, and the commission."""

    initial_before: Decimal
    initial_after: Decimal
    maintenance_before: Decimal
    maintenance_after: Decimal
    equity_with_loan_after: Decimal
    commission: Decimal | None
    warning: str

    @property
    def initial_change(self) -> Decimal:
        return self.initial_after - self.initial_before


@dataclass(frozen=True, slots=True)
class Traffic:
    sent_per_second: float
    received_per_second: float


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    state: ConnectionState
    last_error: str | None
    connected_since: datetime | None
    messages_sent: int
    traffic: Traffic  # messages a second each way over the last minute
    throttling: bool
    orders_in_flight: int
    round_trip_ms: float | None = None  # an IB clock request's, when measured


@dataclass(frozen=True, slots=True)
class ExecutionSeen:
    """An execution as IB reports it when asked (for reconciliation)."""

    exec_id: str
    order_ref: str  # our block's id, or something else for an order placed outside the platform
    con_id: int
    shares: Decimal  # signed: bought positive, sold negative
    at: datetime


@dataclass(frozen=True, slots=True)
class OrderTicket:
    """An order for IB, named by our `order_ref` (the block id)."""

    order_ref: str
    con_id: int
    side: str  # BUY or SELL
    quantity: Decimal
    limit_price: Decimal | None = None  # None: a market order
    tif: str = "DAY"
