"""A leader's statistics read from the books (copytrade.board): the daily equity from the NAV history, and the
day's deposits and withdrawals as external flows, so that money paid in is not performance."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from copytrade import board
from copytrade.store import LeaderRecord
from copytrade.terms import LeaderStatus
from core.calendar import trade_date
from core.clock import ManualClock
from core.db import Database, UnitOfWork
from ledger import operations
from ledger.portfolio import record_equity
from tests.support import new_investor


async def test_returns_and_drawdown_leave_deposits_and_withdrawals_out(db: Database, clock: ManualClock) -> None:
    leader = await new_investor(db)
    # Day by day: 10,000 paid in; up 10 %; 11,000 more paid in (no gain); down 10 %; 2,000 taken out (no loss).
    days = [("10000", "10000"), (None, "11000"), ("11000", "22000"), (None, "19800"), ("-2000", "17800")]
    for number, (flow, equity) in enumerate(days):
        if flow is not None:
            amount, key = Decimal(flow), f"flow/{number}"

            async def move(uow: UnitOfWork, amount: Decimal = amount, key: str = key) -> None:
                if amount > 0:
                    await operations.deposit(uow, leader, amount, key=key)
                else:
                    await operations.withdraw(uow, leader, -amount, key=key)

            await db.transact(move)
        today = trade_date(clock.now())
        await db.transact(lambda uow, e=Decimal(equity), d=today: record_equity(uow, leader, d, e))
        clock.advance(timedelta(days=1))
    today = trade_date(clock.now() - timedelta(days=1))

    record = LeaderRecord(leader, "Ada", "ada", "", Decimal(0), LeaderStatus.ACTIVE, clock.now(), clock.now())
    figures = await db.transact(lambda uow: board.statistics(uow, record, today), readonly=True)
    assert figures.return_since_start == Decimal("-0.01")  # 1.1 x 1.0 x 0.9 x 1.0 = 0.99
    assert figures.max_drawdown == Decimal("0.1")
    assert figures.track_record_days == 4
    assert figures.return_7d is None  # a record of four days has no 7-day return
    assert (figures.followers, figures.copied_aum, figures.trades) == (0, Decimal(0), 0)
