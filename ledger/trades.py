"""Booking a fill into an investor's books: cash, position, cost basis, realized P&L and commission, in one entry.

IB's figures are exact to the storage scale; the investor's cash moves in whole cents. The difference (a
fraction of a cent of gross amount or commission) goes to the house error account in the same entry, so the
broker side always matches IB to the last digit and nothing is created or destroyed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from core.db import UnitOfWork

from . import store
from .accounts import AccountKind, AccountState, Asset
from .entries import EntryRequest, Leg, PostedEntry
from .money import ZERO, product, require_positive, require_storable, round_cash, round_storage
from .positions import PositionState
from .service import open_accounts, post_entry


class TradeSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


@dataclass(frozen=True)
class Trade:
    key: str  # the execution's idempotency key (its execId, or execId and allocation)
    owner_id: UUID
    con_id: int
    side: TradeSide
    quantity: Decimal
    price: Decimal
    commission: Decimal  # IB's exact commission for this quantity (negative for a rebate)
    hold_id: UUID | None = None  # the order's hold: cash for a buy, shares for a sell
    currency: str = "USD"
    memo: str = ""

    def __post_init__(self) -> None:
        require_storable(require_positive(self.quantity))
        require_storable(require_positive(self.price))
        require_storable(self.commission)  # may be negative: IB sometimes pays rebates


@dataclass(frozen=True)
class BookedTrade:
    entry: PostedEntry
    position: PositionState
    realized_pnl: Decimal  # realized by this trade (zero for a buy)


async def book_trade(uow: UnitOfWork, trade: Trade) -> BookedTrade:
    cash, shares, broker_cash, broker_shares, error = await open_accounts(
        uow,
        [
            (AccountKind.INVESTOR_CASH, Asset.cash(trade.currency), trade.owner_id),
            (AccountKind.INVESTOR_POSITION, Asset.instrument(trade.con_id), trade.owner_id),
            (AccountKind.BROKER_CASH, Asset.cash(trade.currency), None),
            (AccountKind.BROKER_POSITION, Asset.instrument(trade.con_id), None),
            (AccountKind.HOUSE_ERROR, Asset.cash(trade.currency), None),
        ],
    )
    exact_gross = product(trade.quantity, trade.price)
    # Each side rounds IB's exact figure once: to the storage scale for IB, to the cent for the investor.
    gross, gross_cash = round_storage(exact_gross), round_cash(exact_gross)
    commission_cash = round_cash(trade.commission)
    buy = trade.side is TradeSide.BUY
    investor_out = gross_cash + commission_cash if buy else commission_cash - gross_cash
    broker_out = gross + trade.commission if buy else trade.commission - gross
    legs = _nonzero(
        Leg.debit(cash.id, investor_out),
        Leg.credit(broker_cash.id, broker_out),
        Leg.debit(error.id, broker_out - investor_out),
        Leg.debit(broker_shares.id, trade.quantity if buy else -trade.quantity),
        Leg.credit(shares.id, trade.quantity if buy else -trade.quantity),
    )
    holds = (trade.hold_id,) if trade.hold_id else ()
    entry = await post_entry(uow, EntryRequest(trade.key, "trade", legs, trade.memo, holds))

    before = await _position_before(uow, shares, entry, trade)
    if entry.replayed:
        return BookedTrade(entry, before, ZERO)
    after = before.buy(trade.quantity, investor_out) if buy else before.sell(trade.quantity, -investor_out)
    await store.save_positions_books(uow, {shares.id: (after.cost_basis, after.realized_pnl)})
    return BookedTrade(entry, after, after.realized_pnl - before.realized_pnl)


def _nonzero(*legs: Leg) -> tuple[Leg, ...]:
    return tuple(leg for leg in legs if leg.amount != 0)


async def _position_before(uow: UnitOfWork, shares: AccountState, entry: PostedEntry, trade: Trade) -> PositionState:
    cost_basis, realized = (await store.positions_books(uow, [shares.id])).get(shares.id, (ZERO, ZERO))
    if entry.replayed:  # nothing moved: the books already include this trade
        return PositionState((await _quantity(uow, shares.id)), cost_basis, realized)
    moved = trade.quantity if trade.side is TradeSide.BUY else -trade.quantity
    return PositionState(entry.leg(shares.id).balance_after - moved, cost_basis, realized)


async def _quantity(uow: UnitOfWork, account_id: UUID) -> Decimal:
    found = await store.accounts_by_id(uow, [account_id], lock=False)
    return found[account_id].balance
