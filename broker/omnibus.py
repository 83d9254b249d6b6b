"""The omnibus account as IB reports it: account summary, positions, and what-if margin for an order."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from ib_async import LimitOrder, MarketOrder, Order, Stock

from core.errors import BrokerRequestFailed
from ledger.money import from_broker_float

from .connection import IBConnection
from .events import MarginImpact, OrderTicket


class OmnibusAccount:
    def __init__(self, connection: IBConnection) -> None:
        self._connection = connection

    async def summary(self) -> dict[str, Decimal]:
        """IB's account summary in USD: NetLiquidation, TotalCashValue, AvailableFunds, BuyingPower, ..."""
        await self._connection.wait_ready()
        values = await self._connection.ib.accountSummaryAsync(self._connection.account)
        return {
            value.tag: amount
            for value in values
            if value.currency == "USD" and (amount := _decimal(value.value)) is not None
        }

    async def positions(self) -> dict[int, Decimal]:
        """Shares held at IB by conId."""
        await self._connection.wait_ready()
        return {
            position.contract.conId: from_broker_float(position.position)
            for position in self._connection.ib.positions(self._connection.account)
            if position.position
        }

    async def what_if(self, ticket: OrderTicket) -> MarginImpact:
        """IB's margin figures for the order, without placing it."""
        await self._connection.wait_ready()
        order: Order = (
            MarketOrder(ticket.side, float(ticket.quantity))
            if ticket.limit_price is None
            else LimitOrder(ticket.side, float(ticket.quantity), float(ticket.limit_price))
        )
        order.account = self._connection.account
        state = await self._connection.ib.whatIfOrderAsync(Stock(conId=ticket.con_id, exchange="SMART"), order)
        figures = [
            _decimal(getattr(state, name, ""))
            for name in ("initMarginBefore", "initMarginAfter", "maintMarginBefore", "maintMarginAfter")
        ]
        equity_after = _decimal(getattr(state, "equityWithLoanAfter", ""))
        if equity_after is None or any(figure is None for figure in figures):
            raise BrokerRequestFailed(0, f"IB gave no what-if figures for conId {ticket.con_id}")
        init_before, init_after, maint_before, maint_after = (figure or Decimal(0) for figure in figures)
        commission = getattr(state, "commission", None)
        return MarginImpact(
            initial_before=init_before,
            initial_after=init_after,
            maintenance_before=maint_before,
            maintenance_after=maint_after,
            equity_with_loan_after=equity_after,
            commission=from_broker_float(commission) if commission is not None and commission < 1e300 else None,
            warning=str(getattr(state, "warningText", "")),
        )


def _decimal(text: str) -> Decimal | None:
    """IB's numbers as text; empty or its "unset" mark (the largest double) means no value."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        return None
    return value if value.is_finite() and abs(value) < Decimal("1e300") else None
