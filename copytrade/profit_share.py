"""Leaders' profit share: once a month, on each copy's profit above its high-water mark, the leader's share
moves from the copy to the leader (one ledger entry, a line in both statements), and both are told.

A copy's profit is its equity (cash and positions at market) less what the follower put in. The share is
charged only on profit beyond the highest level already charged on (the high-water mark), so the same gain is
never paid for twice; after a charge, the mark is the copy's profit left once the share is paid. The share
comes out of the copy's cash, and out of the follower's own cash for what the copy's cash cannot cover; if both
fall short, what could be paid is charged and the rest waits for a later month (the mark moves only as far as
paid for).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from decimal import Decimal
from uuid import UUID

from core.db import UnitOfWork
from core.outbox import Message, publish
from ledger.accounts import Holder
from ledger.money import CENT, ZERO, round_cash
from ledger.service import open_accounts
from ledger.sleeves import move_cash

from . import store
from .store import CopyRecord, LeaderRecord

HUNDRED = Decimal(100)


def share_due(copy: CopyRecord, equity: Decimal, pct: Decimal) -> Decimal:
    """The leader's share of the copy's profit above its mark, in whole cents (zero when there is none)."""
    gain = equity - copy.invested - copy.high_water_mark
    return max(ZERO, round_cash(gain * pct / HUNDRED)) if gain > 0 and pct > 0 else ZERO


async def charge(uow: UnitOfWork, copy_id: UUID, leader: LeaderRecord, equity: Decimal, period: date) -> Decimal:
    """Charge the copy's profit share for the month ending `period`; what was paid (once per copy and month)."""
    copy = await store.copy_by_id(uow, copy_id, lock=True)
    if copy is None:
        return ZERO
    due = share_due(copy, equity, leader.profit_share_pct)
    if due < CENT:
        return ZERO
    sleeve, own, payee = copy.holder, Holder(copy.follower_id), Holder(leader.user_id)
    sleeve_cash, own_cash = await open_accounts(uow, [sleeve.cash(), own.cash()])
    from_copy = min(due, max(ZERO, sleeve_cash.available))
    from_own = min(due - from_copy, max(ZERO, own_cash.available))
    month = f"{period:%Y-%m}"
    memo = f"profit share {leader.profit_share_pct.normalize():f}% to {leader.alias}, {month}"
    replayed = False
    for source, amount, part in ((sleeve, from_copy, "copy"), (own, from_own, "own")):
        if amount > 0:
            key = f"profit_share/{copy.id}/{month}/{part}"
            entry = await move_cash(uow, source, payee, amount, key=key, memo=memo, kind="profit_share")
            replayed = replayed or entry.replayed
    paid = from_copy + from_own
    if replayed or paid == 0:
        return ZERO if replayed else paid
    # The mark moves up by the gain this payment covers, less what left the copy (its profit is that much lower).
    charged_on = paid * HUNDRED / leader.profit_share_pct
    await store.save_copy(uow, replace(copy, high_water_mark=copy.high_water_mark + charged_on - from_copy))
    facts = {"copy_id": str(copy.id), "leader": leader.alias, "amount": str(paid), "month": month}
    await publish(
        uow,
        [
            Message(
                "copy.profit_share_paid", f"ps_paid/{copy.id}/{month}", facts | {"owner_id": str(copy.follower_id)}
            ),
            Message(
                "copy.profit_share_received", f"ps_got/{copy.id}/{month}", facts | {"owner_id": str(leader.user_id)}
            ),
        ],
    )
    return paid
