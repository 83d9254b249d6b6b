"""Moving an investor's cash and shares between their own book and one of their sleeves (a copy's money, kept
apart: see accounts.AccountSpec). Nothing leaves the investor: each move is one entry between two of their
accounts (a profit share, cash from a copy to its leader, is the one move between two investors). Shares move
with their part of the cost basis, so the P&L follows the shares; realized P&L stays where it was made.

Each move takes an idempotency key; the same key moves once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from uuid import UUID

from core.db import UnitOfWork
from core.errors import InsufficientFunds

from . import store
from .accounts import Holder
from .entries import EntryRequest, Leg, PostedEntry
from .money import ZERO, require_cash, require_positive, round_cash
from .service import open_accounts, post_entry


async def move_cash(
    uow: UnitOfWork,
    source: Holder,
    target: Holder,
    amount: Decimal,
    *,
    key: str,
    memo: str = "",
    kind: str = "sleeve_cash",
) -> PostedEntry:
    """Cash the source has available (never its credit line: a sleeve is funded with the investor's own money),
    to another of its owner's books, or to another investor's (`kind` says why: a profit share, say)."""
    amount = require_cash(require_positive(amount))
    origin, destination = await open_accounts(uow, [source.cash(), target.cash()])
    replay = await store.entries_by_key(uow, [key])
    if key not in replay:
        locked = (await store.accounts_by_id(uow, [origin.id], lock=True))[origin.id]
        if locked.available < amount:
            raise InsufficientFunds(origin.id, "USD", amount, max(ZERO, locked.available))
    legs = (Leg.debit(origin.id, amount), Leg.credit(destination.id, amount))
    return await post_entry(uow, EntryRequest(key, kind, legs, memo))


async def move_shares(
    uow: UnitOfWork, source: Holder, target: Holder, con_id: int, quantity: Decimal, *, key: str, memo: str = ""
) -> PostedEntry | None:
    """Shares the source has available, with their part of its cost basis; None when there are none to move."""
    if quantity <= 0:
        return None
    origin, destination = await open_accounts(uow, [source.shares(con_id), target.shares(con_id)])
    legs = (Leg.debit(origin.id, quantity), Leg.credit(destination.id, quantity))
    entry = await post_entry(uow, EntryRequest(key, "sleeve_shares", legs, memo))
    if entry.replayed:
        return entry
    books = await store.positions_books(uow, [origin.id, destination.id])
    basis, realized = books.get(origin.id, (ZERO, ZERO))
    held_before = entry.leg(origin.id).balance_after + quantity
    moved = basis if quantity == held_before else round_cash(basis * quantity / held_before)
    target_basis, target_realized = books.get(destination.id, (ZERO, ZERO))
    await store.save_positions_books(
        uow, {origin.id: (basis - moved, realized), destination.id: (target_basis + moved, target_realized)}
    )
    return entry


async def sleeve_shares(uow: UnitOfWork, sleeve_id: UUID) -> dict[int, Decimal]:
    """The sleeve's shares by instrument (positions not zero)."""
    return {
        con_id: balance for con_id, (balance, _held) in (await sleeve_books(uow, [sleeve_id]))[sleeve_id].shares.items()
    }


@dataclass(frozen=True)
class SleeveBook:
    """A sleeve's cash and shares (balances and what open orders hold of them)."""

    cash: Decimal = ZERO
    cash_held: Decimal = ZERO
    shares: dict[int, tuple[Decimal, Decimal]] = field(default_factory=dict)  # con_id -> (balance, held)

    def available_shares(self, con_id: int) -> Decimal:
        balance, held = self.shares.get(con_id, (ZERO, ZERO))
        return balance - held

    def equity(self, prices: Mapping[int, Decimal]) -> Decimal:
        """Cash and shares at the prices given (shares of an instrument without a price count nothing)."""
        return self.cash + sum(
            (balance * prices.get(con_id, ZERO) for con_id, (balance, _held) in self.shares.items()), ZERO
        )


async def sleeve_books(uow: UnitOfWork, sleeve_ids: Sequence[UUID]) -> dict[UUID, SleeveBook]:
    """The sleeves' books, in one read whatever their number (every copy of a leader at once)."""
    found: dict[UUID, SleeveBook] = {sleeve_id: SleeveBook() for sleeve_id in sleeve_ids}
    for row in await store.sleeve_accounts(uow, sleeve_ids):
        sleeve = found[row.sleeve_id]
        if row.instrument_id is None:
            found[row.sleeve_id] = replace(sleeve, cash=row.balance, cash_held=row.held)
        elif row.balance:
            sleeve.shares[row.instrument_id] = (row.balance, row.held)
    return found
