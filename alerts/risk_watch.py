"""The risk watch: every `risk_watch_minutes`, every investor's own book valued at market (one quote per
instrument, however many hold it), and then:

- the value kept as the day's point of the equity curve (the last one of a day stays);
- a fall since the last trading day's value of `risk_drawdown_alert_pct` or more, money moved in or out taken
  out, told to the investor once a day (risk.drawdown);
- margin accounts below their maintenance requirement told (margin.maintenance_breach, once a day) and a margin
  call opened; a call whose account is back above is cured; at a call's deadline, with the `liquidate` policy,
  the house sells positions at market through the normal order flow (largest first, enough to be back above
  with a tenth to spare, `broker.margin.liquidation`) and tells the investor (risk.liquidated).

An investor holding something IB cannot price now is left for the next round rather than valued wrongly.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, func, insert, select, update

from broker import margin_service
from broker.margin import liquidation
from broker.market_data import last_prices
from broker.order_requests import Market, OrderRequest
from broker.order_states import OrderSide, OrderStatus
from broker.order_store import ORDERS
from core.bulk import upsert_rows
from core.calendar import NEW_YORK, trade_date
from core.config import Settings
from core.db import Database, UnitOfWork
from core.errors import BrokerUnavailable, DomainError
from core.leases import Lease
from core.outbox import Message, publish
from core.rounds import Rounds
from ledger.accounts import AccountKind, Asset
from ledger.flows import flows_by_day, moved_after
from ledger.instruments import symbols_of
from ledger.money import ZERO, round_cash
from ledger.portfolio import NAV
from ledger.service import open_account
from ledger.store import ACCOUNTS

from .models import MarginCallRow

log = logging.getLogger("omnibot.alerts")
CALLS: Table = MarginCallRow.__table__  # type: ignore[assignment]
PlaceOrder = Callable[[OrderRequest], Awaitable[Any]]


@dataclass
class OwnBook:
    cash: Decimal = ZERO
    shares: dict[int, Decimal] = field(default_factory=dict)


class RiskWatch:
    def __init__(self, db: Database, market: Market, settings: Settings, place_order: PlaceOrder) -> None:
        self._db, self._market, self._settings, self._place_order = db, market, settings, place_order
        self._rounds = Rounds("risk watch", self.run, settings.risk_watch_minutes * 60)

    def start(self, lease: Lease | None = None) -> None:
        self._rounds.start(lease)

    async def stop(self) -> None:
        await self._rounds.stop()

    async def run(self) -> None:
        books = await self._db.transact(_own_books, readonly=True)
        prices = await last_prices(self._market, {con_id for book in books.values() for con_id in book.shares})
        due = await self._db.transact(lambda uow: self._assess(uow, books, prices))
        for call_id, owner in due:
            await self._liquidate(call_id, owner, prices)

    async def _assess(
        self, uow: UnitOfWork, books: Mapping[UUID, OwnBook], prices: Mapping[int, Decimal]
    ) -> list[tuple[UUID, UUID]]:
        """Record the day's values, tell the drawdowns, open and cure margin calls; the calls due for the house."""
        now = uow.clock.now()
        today = trade_date(now)
        valued = {
            owner: book.cash + sum((round_cash(q * prices[c]) for c, q in book.shares.items()), ZERO)
            for owner, book in books.items()
            if all(con_id in prices for con_id in book.shares)
        }
        before = await _last_values(uow, today, valued)
        earliest = min((day for day, _value in before.values()), default=today)
        moved = await flows_by_day(uow, datetime.combine(earliest, time(), NEW_YORK), valued)
        rows = [{"owner_id": o, "day": today, "equity": e, "updated_at": now} for o, e in valued.items()]
        if rows:
            await upsert_rows(uow, NAV, rows, key=("owner_id", "day"))
        threshold, told = self._settings.risk_drawdown_alert_pct, []
        for owner, equity in valued.items():
            last_day, start = before.get(owner, (today, ZERO))
            if start <= 0:
                continue
            # Money moved since that last value (not only today's: a day may have gone unvalued) is no fall.
            fall = (start + moved_after(moved.get(owner, {}), last_day) - equity) / start * 100
            if fall >= threshold:
                facts = {"owner_id": str(owner), "equity": str(equity), "from": str(start), "pct": f"{fall:.2f}"}
                told.append(Message("risk.drawdown", f"drawdown/{owner}/{today}", facts))
        await publish(uow, told)
        held = [owner for owner in valued if books[owner].shares]
        breached = set(await margin_service.watch_maintenance(uow, self._settings, held, prices))
        return await self._calls(uow, now, set(valued), breached)

    async def _calls(self, uow: UnitOfWork, now: datetime, seen: set[UUID], breached: set[UUID]) -> list[Any]:
        open_calls = dict((await uow.connection.execute(select(CALLS.c.owner_id, CALLS.c.id).where(_OPEN))).all())
        cured = [call for owner, call in open_calls.items() if owner in seen and owner not in breached]
        if cured:
            await uow.connection.execute(
                update(CALLS).where(CALLS.c.id.in_(cured)).values(status="cured", closed_at=now)
            )
        grace = timedelta(hours=self._settings.margin_call_grace_hours)
        new = breached - set(open_calls)
        live = [status.value for status in OrderStatus if status.is_live]
        selling = select(ORDERS.c.owner_id).where(
            ORDERS.c.owner_id.in_(new), ORDERS.c.side == OrderSide.SELL.value, ORDERS.c.status.in_(live)
        )
        new -= set((await uow.connection.execute(selling)).scalars())  # a sale on its way may cure it: not yet
        opened = [
            {"id": uow.ids.new_id(), "owner_id": owner, "opened_at": now, "deadline": now + grace, "status": "open"}
            for owner in sorted(new)
        ]
        if opened:
            await uow.connection.execute(insert(CALLS), opened)
        if self._settings.margin_call_policy != "liquidate":
            return []
        due = select(CALLS.c.id, CALLS.c.owner_id).where(_OPEN, CALLS.c.deadline <= now)
        return [(call, owner) for call, owner in await uow.connection.execute(due) if owner in breached]

    async def _liquidate(self, call_id: UUID, owner: UUID, prices: Mapping[int, Decimal]) -> None:
        """Sell as the house policy says; each sale's key names the call, so a round that runs again (or a
        restart) places no sale twice."""

        async def plan(uow: UnitOfWork) -> tuple[list[Any], dict[int, str]]:
            account = await margin_service.margin_account(uow, owner, prices)
            sales = liquidation(account, await margin_service.policy(uow, self._settings))
            capped = []
            for sale in sales:  # what open sales already hold is on its way out: only the rest can be sold
                shares = await open_account(uow, AccountKind.INVESTOR_POSITION, Asset.instrument(sale.con_id), owner)
                if shares.available > 0:
                    capped.append(replace(sale, quantity=min(sale.quantity, shares.available)))
            return capped, await symbols_of(uow, [sale.con_id for sale in capped])

        sales, symbols = await self._db.transact(plan)
        placed = []
        for sale in sales:
            request = OrderRequest(owner, f"margin-call/{call_id}/{sale.con_id}", symbols[sale.con_id], OrderSide.SELL,
                                   sale.quantity)  # fmt: skip
            try:
                await self._place_order(request)
            except (DomainError, BrokerUnavailable) as refused:  # the others may still go
                log.warning("margin call %s: the sale of %s could not be placed: %s", call_id, request.symbol, refused)
                continue
            placed.append({"symbol": request.symbol, "quantity": str(sale.quantity)})
        if placed:  # else the call stays open, and the next round tries again
            await self._db.transact(lambda uow: _liquidated(uow, call_id, owner, placed))


async def _liquidated(uow: UnitOfWork, call_id: UUID, owner: UUID, sales: list[dict[str, str]]) -> None:
    now = uow.clock.now()
    await uow.connection.execute(update(CALLS).where(CALLS.c.id == call_id).values(status="liquidated", closed_at=now))
    facts = {"owner_id": str(owner), "sales": sales}
    await publish(uow, [Message("risk.liquidated", f"margin-call/{call_id}", facts)])


_OPEN = CALLS.c.status == "open"


async def _own_books(uow: UnitOfWork) -> dict[UUID, OwnBook]:
    """Every investor's own cash and shares (their copies' sleeves left out)."""
    kinds = (AccountKind.INVESTOR_CASH.value, AccountKind.INVESTOR_POSITION.value)
    query = select(ACCOUNTS.c.owner_id, ACCOUNTS.c.kind, ACCOUNTS.c.instrument_id, ACCOUNTS.c.balance).where(
        ACCOUNTS.c.kind.in_(kinds), ACCOUNTS.c.sleeve_id.is_(None), ACCOUNTS.c.owner_id.is_not(None)
    )
    books: defaultdict[UUID, OwnBook] = defaultdict(OwnBook)
    for owner, kind, con_id, balance in await uow.connection.execute(query):
        book = books[owner]
        if kind == AccountKind.INVESTOR_CASH.value:
            book.cash += balance
        elif balance:
            book.shares[con_id] = balance
    return dict(books)


async def _last_values(uow: UnitOfWork, today: Any, owners: Collection[UUID]) -> dict[UUID, tuple[Any, Decimal]]:
    """Each investor's last day before today on the equity curve, and their value at its end."""
    latest = (
        select(NAV.c.owner_id, func.max(NAV.c.day).label("day")).where(NAV.c.day < today).group_by(NAV.c.owner_id)
    ).subquery()
    query = select(NAV.c.owner_id, NAV.c.day, NAV.c.equity).join(
        latest, and_(NAV.c.owner_id == latest.c.owner_id, NAV.c.day == latest.c.day)
    )
    return {owner: (day, equity) for owner, day, equity in await uow.connection.execute(query) if owner in owners}
