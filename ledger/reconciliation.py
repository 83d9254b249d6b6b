"""Reconciliation: the books' broker side against what IB reports, and the breaks found, kept with their age.

The omnibus identity (docs/architecture.md, section 4): for every instrument, the books' position at IB (the
broker position account, which every fill moves as investors' and the house's positions move) is IB's position;
the books' cash at IB is IB's cash; every execution IB reports for our orders is booked. Executions IB reports
and we have not booked yet count as in flight for a grace period (their fill may be on its way); after it, or
when the order is not ours at all (a trade placed by hand at IB), they are breaks. Cash is compared only when no
execution is in flight (its commission is not known before it is booked).

Comparing is pure (`breaks`); `save` keeps the open breaks: each one's first sighting (its age), its last, and
when it cleared.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Table, insert, select, update

from core.db import UnitOfWork

from .models import ReconciliationBreak
from .money import ZERO

BREAKS: Table = ReconciliationBreak.__table__  # type: ignore[assignment]
POSITION, CASH, EXECUTION = "position", "cash", "execution"


@dataclass(frozen=True)
class Facts:
    """One look at both sides."""

    books_positions: Mapping[int, Decimal]  # the books' broker position per instrument
    ib_positions: Mapping[int, Decimal]
    books_cash: Decimal
    ib_cash: Decimal | None  # None: IB did not say
    in_transit: Decimal  # money sent to IB, not yet booked as arrived (IB may already show it)
    in_flight: Mapping[int, Decimal]  # shares of executions IB reported that we are still booking (signed)
    unbooked: Sequence[tuple[str, str]]  # (exec id, why) of executions beyond the grace, or not ours


@dataclass(frozen=True)
class Break:
    kind: str  # position, cash, execution
    key: str  # the conId, the currency, the execution id
    expected: Decimal  # what the books say
    actual: Decimal  # what IB says
    note: str


@dataclass(frozen=True)
class OpenBreak:
    kind: str
    key: str
    expected: Decimal
    actual: Decimal
    note: str
    first_seen: datetime
    last_seen: datetime


def breaks(facts: Facts, cash_tolerance: Decimal) -> list[Break]:
    found = []
    for con_id in sorted(set(facts.books_positions) | set(facts.ib_positions)):
        books = facts.books_positions.get(con_id, ZERO)
        ib = facts.ib_positions.get(con_id, ZERO)
        if books + facts.in_flight.get(con_id, ZERO) != ib:
            found.append(Break(POSITION, str(con_id), books, ib, f"the books hold {books}, IB {ib}"))
    if facts.ib_cash is not None and not any(facts.in_flight.values()):  # cash is compared when nothing is in flight
        gap = facts.ib_cash - facts.books_cash
        explained = abs(gap) <= cash_tolerance or (facts.in_transit and abs(gap - facts.in_transit) <= cash_tolerance)
        if not explained:
            found.append(Break(CASH, "USD", facts.books_cash, facts.ib_cash, f"IB has {gap:+} more than the books"))
    found += [Break(EXECUTION, exec_id, ZERO, ZERO, why) for exec_id, why in facts.unbooked]
    return found


async def save(uow: UnitOfWork, found: Sequence[Break]) -> tuple[list[OpenBreak], list[Break]]:
    """Keep the open breaks: new ones recorded, seen ones refreshed, the others cleared. The breaks open now,
    and those of them that are new."""
    now = uow.clock.now()
    rows = (await uow.connection.execute(select(BREAKS).where(BREAKS.c.resolved_at.is_(None)))).all()
    open_now = {(row.kind, row.key): row for row in rows}
    seen = {(b.kind, b.key) for b in found}
    new = [b for b in found if (b.kind, b.key) not in open_now]
    for item in new:
        values = {"kind": item.kind, "key": item.key, "expected": item.expected, "actual": item.actual,
                  "note": item.note[:300], "first_seen": now, "last_seen": now, "resolved_at": None}  # fmt: skip
        await uow.connection.execute(insert(BREAKS).values(**values))
    for item in found:
        if (item.kind, item.key) in open_now:
            row = open_now[(item.kind, item.key)]
            await uow.connection.execute(
                update(BREAKS)
                .where(BREAKS.c.id == row.id)
                .values(expected=item.expected, actual=item.actual, note=item.note[:300], last_seen=now)
            )
    cleared = [row.id for key, row in open_now.items() if key not in seen]
    if cleared:
        await uow.connection.execute(update(BREAKS).where(BREAKS.c.id.in_(cleared)).values(resolved_at=now))
    return await open_breaks(uow), new


async def open_breaks(uow: UnitOfWork) -> list[OpenBreak]:
    query = select(BREAKS).where(BREAKS.c.resolved_at.is_(None)).order_by(BREAKS.c.first_seen, BREAKS.c.id)
    return [
        OpenBreak(row.kind, row.key, row.expected, row.actual, row.note, row.first_seen, row.last_seen)
        for row in await uow.connection.execute(query)
    ]
