"""Booking one IB execution shared by many investors (a block order's fill), in one entry: every investor's
cash, shares, cost basis and realized P&L, IB's side to the last digit, and the house error account taking the
fractions of a cent and any shares no investor wanted (an overfill).

The split itself (whole shares pro rata, commission to the cent) is the broker's (`broker.allocation`); this
module books what it was given. Cash moves in whole cents per investor; each investor's gross is their shares
times the price, rounded to the cent.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from core.db import UnitOfWork

from . import store
from .accounts import AccountKind, AccountSpec, Asset, Holder
from .entries import EntryRequest, Leg, PostedEntry
from .money import ZERO, product, round_cash, round_storage
from .positions import PositionState
from .service import open_accounts, post_entry
from .trades import TradeSide


@dataclass(frozen=True)
class Allocation:
    owner_id: UUID
    quantity: Decimal  # whole shares, may be zero (the investor still gets a commission share of zero)
    commission: Decimal  # the investor's share, in cents
    hold_id: UUID | None = None
    completes: bool = False  # the order is done with this execution: the rest of its hold goes back
    sleeve_id: UUID | None = None  # the order is for one of the investor's sleeves (ledger.accounts.AccountSpec)

    @property
    def holder(self) -> Holder:
        return Holder(self.owner_id, self.sleeve_id)


@dataclass(frozen=True)
class SharedExecution:
    key: str  # the execution's idempotency key
    con_id: int
    side: TradeSide
    quantity: Decimal  # all of the execution
    price: Decimal
    commission: Decimal  # IB's exact commission for all of it
    allocations: Sequence[Allocation]
    currency: str = "USD"
    memo: str = ""


@dataclass(frozen=True)
class BookedShare:
    holder: Holder
    quantity: Decimal
    gross: Decimal  # cents
    commission: Decimal  # cents
    realized_pnl: Decimal  # realized by this execution (zero for a buy)
    position: Decimal | None  # the holder's shares after it (None on a replay)


@dataclass(frozen=True)
class BookedExecution:
    entry: PostedEntry
    shares: list[BookedShare]  # one per holder (investor or sleeve), in the order first seen

    @property
    def replayed(self) -> bool:
        return self.entry.replayed


async def book_shared_execution(uow: UnitOfWork, execution: SharedExecution) -> BookedExecution:
    per_holder = _per_holder(execution.allocations)
    cash_asset, shares_asset = Asset.cash(execution.currency), Asset.instrument(execution.con_id)
    specs = [
        AccountSpec(AccountKind.BROKER_CASH, cash_asset),
        AccountSpec(AccountKind.BROKER_POSITION, shares_asset),
        AccountSpec(AccountKind.HOUSE_ERROR, cash_asset),
        AccountSpec(AccountKind.HOUSE_ERROR, shares_asset),
    ]
    for holder in per_holder:
        specs += [holder.cash(execution.currency), holder.shares(execution.con_id)]
    broker_cash, broker_shares, error_cash, error_shares, *investor_accounts = await open_accounts(uow, specs)

    buy = execution.side is TradeSide.BUY
    legs: dict[UUID, Decimal] = defaultdict(Decimal)
    booked, investors_out, allocated = [], ZERO, ZERO
    for index, (holder, (quantity, commission)) in enumerate(per_holder.items()):
        cash, position = investor_accounts[2 * index], investor_accounts[2 * index + 1]
        gross = round_cash(product(quantity, execution.price))
        out = gross + commission if buy else commission - gross
        legs[cash.id] += out
        legs[position.id] += -quantity if buy else quantity
        investors_out += out
        allocated += quantity
        booked.append((holder, cash.id, position.id, quantity, gross, commission, out))
    exact_gross = round_storage(product(execution.quantity, execution.price))
    broker_out = exact_gross + execution.commission if buy else execution.commission - exact_gross
    legs[broker_cash.id] -= broker_out
    legs[broker_shares.id] += execution.quantity if buy else -execution.quantity
    legs[error_cash.id] += broker_out - investors_out  # fractions of a cent, and the cost of the house's shares
    legs[error_shares.id] += -(execution.quantity - allocated) if buy else execution.quantity - allocated
    booked_holds = [a for a in execution.allocations if a.hold_id and a.holder in per_holder]
    holds = tuple(a.hold_id for a in booked_holds if a.hold_id)
    releases = tuple(a.hold_id for a in booked_holds if a.hold_id and a.completes)
    request = EntryRequest(
        execution.key,
        "trade",
        tuple(Leg(a, amount) for a, amount in legs.items() if amount),
        execution.memo,
        holds,
        releases,
    )
    entry = await post_entry(uow, request)
    if entry.replayed:
        return BookedExecution(entry, [BookedShare(h, q, g, c, ZERO, None) for h, _c, _s, q, g, c, _out in booked])

    after_posting = {leg.account_id: leg.balance_after for leg in entry.legs}
    share_accounts = [shares_id for _o, _c, shares_id, *_rest in booked]
    books = await store.positions_books(uow, share_accounts)
    new_books, shares = {}, []
    for holder, _cash_id, shares_id, quantity, gross, commission, out in booked:
        basis, realized = books.get(shares_id, (ZERO, ZERO))
        moved = quantity if buy else -quantity
        before = PositionState(after_posting[shares_id] - moved, basis, realized)
        if quantity == 0:
            after = PositionState(before.quantity, basis + (out if buy else ZERO), realized - (ZERO if buy else out))
        else:
            after = before.buy(quantity, out) if buy else before.sell(quantity, -out)
        new_books[shares_id] = (after.cost_basis, after.realized_pnl)
        realized = after.realized_pnl - before.realized_pnl
        shares.append(BookedShare(holder, quantity, gross, commission, realized, after_posting[shares_id]))
    await store.save_positions_books(uow, new_books)
    return BookedExecution(entry, shares)


def _per_holder(allocations: Sequence[Allocation]) -> dict[Holder, tuple[Decimal, Decimal]]:
    """An investor (or sleeve) with two orders in one block is booked once, with both orders' shares and
    commissions."""
    merged: dict[Holder, tuple[Decimal, Decimal]] = {}
    for allocation in allocations:
        quantity, commission = merged.get(allocation.holder, (ZERO, ZERO))
        merged[allocation.holder] = (quantity + allocation.quantity, commission + allocation.commission)
    return {holder: value for holder, value in merged.items() if value[0] or value[1]}


@dataclass(frozen=True)
class PriceAdjustment:
    holder: Holder
    amount: Decimal  # cents: what the investor's gross moves by (positive: a buyer pays more, a seller gets more)


async def book_price_adjustments(
    uow: UnitOfWork,
    key: str,
    con_id: int,
    side: TradeSide,
    adjustments: Sequence[PriceAdjustment],
    currency: str = "USD",
) -> PostedEntry | None:
    """Bring each investor to the block's average price; the house error account takes the difference."""
    moving = [adjustment for adjustment in adjustments if adjustment.amount]
    if not moving:
        return None
    specs = [AccountSpec(AccountKind.HOUSE_ERROR, Asset.cash(currency))]
    for adjustment in moving:
        specs += [adjustment.holder.cash(currency), adjustment.holder.shares(con_id)]
    error, *accounts = await open_accounts(uow, specs)
    buy = side is TradeSide.BUY
    legs: dict[UUID, Decimal] = defaultdict(Decimal)
    for index, adjustment in enumerate(moving):
        legs[accounts[2 * index].id] += adjustment.amount if buy else -adjustment.amount
    legs[error.id] -= sum(legs.values(), ZERO)
    entry = await post_entry(uow, EntryRequest(key, "price_adjustment", tuple(Leg(a, v) for a, v in legs.items() if v)))
    if entry.replayed:
        return entry
    share_ids = [accounts[2 * index + 1].id for index in range(len(moving))]
    books = await store.positions_books(uow, share_ids)
    new_books = {}
    for shares_id, adjustment in zip(share_ids, moving, strict=True):
        basis, realized = books.get(shares_id, (ZERO, ZERO))
        new_books[shares_id] = (basis + adjustment.amount, realized) if buy else (basis, realized + adjustment.amount)
    await store.save_positions_books(uow, new_books)
    return entry


async def book_price_correction(
    uow: UnitOfWork, key: str, side: TradeSide, con_id: int, quantity: Decimal, old: Decimal, new: Decimal
) -> PostedEntry | None:
    """IB corrected the price of an execution already booked: the broker's cash moves by the difference, and the
    house error account takes it. The investors keep the price they were told (a fill once confirmed does not
    change under them); the admins hear of the correction and settle it with whoever it concerns."""
    cash_asset = Asset.cash()
    broker_cash, error_cash = await open_accounts(
        uow, [AccountSpec(AccountKind.BROKER_CASH, cash_asset), AccountSpec(AccountKind.HOUSE_ERROR, cash_asset)]
    )
    difference = round_storage(product(quantity, new - old))  # what the broker paid more (a buy) or got more
    if not difference:
        return None
    moved = -difference if side is TradeSide.BUY else difference
    legs = (Leg(broker_cash.id, moved), Leg(error_cash.id, -moved))
    memo = f"IB corrected {quantity} of {con_id} from {old} to {new}"
    return await post_entry(uow, EntryRequest(key, "correction", legs, memo))
