"""The copy desk: copy trading's running part, and what the bot calls.

- It follows booked fills (broker.router.FillFollower): a leader's fill leaves a signal in its own
  transaction, and wakes the desk once committed; the desk prices what it needs (outside any transaction),
  then mirrors the signal into its copiers' block (`mirror.mirror_signal`) and wakes the router.
- It finishes stopping copies: once a stopping copy has no open order, its positions are kept (moved to the
  follower's own book) or sold, then its cash goes back and it is stopped.
- It watches each copy's stop-loss and take-profit on market prices: when one is hit, the copy is closed.

Everything it does is in the database first: a desk that dies leaves signals unprocessed and copies stopping,
and the next one (in this process or another) takes them up.
"""

from __future__ import annotations

import functools
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from uuid import UUID

from broker.block_orders import BlockOrder, place_market_block
from broker.fills import BookedFill
from broker.order_requests import Market
from broker.order_states import OrderSide
from broker.order_store import live_orders_of_sleeve
from core.calendar import trade_date
from core.config import Settings
from core.db import Database, UnitOfWork
from core.errors import BrokerUnavailable, CopyRefused, NotFound, TradingHalted
from core.pending_actions import Spend, spent_with
from core.rounds import Rounds
from ledger.instruments import symbols_of
from ledger.portfolio import book, record_equity
from ledger.sleeves import sleeve_books, sleeve_shares

from . import follow as following
from . import profit_share, store
from .mirror import instruments_to_price, mirror_signal, record_signals
from .store import CopyRecord
from .terms import CopyMode, CopyStatus, CopyTerms, LeaderStatus

log = logging.getLogger("omnibot.copytrade")
HUNDRED = Decimal(100)
NAV_EVERY = timedelta(minutes=10)  # how often leaders' equity is taken (the day's last one stays)


class CopyDesk:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        market: Market,
        wake_router: Callable[[], None] = lambda: None,
        wake_desk: Callable[[], None] | None = None,
    ) -> None:
        self._db, self._settings, self._market, self._wake_router = db, settings, market, wake_router
        self._rounds = Rounds("copy desk", self._round, settings.copy_signal_poll_seconds)
        # The desk's rounds run in the broker process; a follower's request made elsewhere wakes them there.
        self._wake_desk = wake_desk or self._rounds.wake
        self._next_nav = self._next_watch = datetime.min.replace(tzinfo=UTC)
        self._charged_month: date | None = None

    # ---- following fills (broker.router.FillFollower)

    async def on_fill(self, uow: UnitOfWork, booked: BookedFill) -> None:
        await record_signals(uow, booked)

    def fill_committed(self) -> None:
        self._rounds.wake()

    def wake(self) -> None:
        """Run a round now: a follower's request (made in this process or another) waits for it."""
        self._rounds.wake()

    # ---- running

    def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    async def _round(self) -> None:
        await self.mirror_pending()
        await self.settle_stopping()
        now = self._db.clock.now()
        if now >= self._next_watch:  # not on every fill's wake-up: it values every copy
            await self.watch_limits()
            self._next_watch = now + timedelta(seconds=self._settings.copy_limit_watch_seconds)
        if now >= self._next_nav:
            await self.record_leader_equity()
            self._next_nav = now + NAV_EVERY
        month_end = last_month_end(trade_date(now))
        if month_end != self._charged_month:
            await self.charge_profit_shares(month_end)
            self._charged_month = month_end

    async def mirror_pending(self) -> int:
        """Mirror every signal waiting; how many were mirrored here."""
        done = 0
        while (signal := await self._db.transact(store.next_signal, readonly=True)) is not None:
            try:
                if not await self._mirror(signal.id, signal):
                    return done  # another desk has it
            except BrokerUnavailable as away:  # mirrored when the market is back: nothing is lost meanwhile
                log.warning("copy desk: signal %s waits (%s)", signal.id, away)
                return done
            done += 1
        return done

    async def _mirror(self, signal_id: int, signal: store.SignalRecord) -> bool:
        needed = await self._db.transact(lambda uow: instruments_to_price(uow, signal), readonly=True)
        prices = await self._prices(needed)
        mirrored = await self._db.transact(lambda uow: mirror_signal(uow, self._settings, signal_id, prices))
        if mirrored is not None and mirrored.placed is not None and mirrored.placed.block is not None:
            self._wake_router()
        return mirrored is not None

    # ---- the follower's requests

    async def follow(
        self, follower_id: UUID, alias: str, terms: CopyTerms, *, spending: Spend | None = None
    ) -> CopyRecord:
        """Follow the leader; `spending` (the chat's confirmation) is spent in the same transaction."""
        copy = await self._db.transact(
            spent_with(spending, lambda uow: following.follow(uow, self._settings, follower_id, alias, terms))
        )
        self._wake_desk()  # buying into the leader's positions, if asked
        return copy

    async def following(self, follower_id: UUID) -> list[CopyRecord]:
        return await self._db.transact(lambda uow: store.copies_of_follower(uow, follower_id), readonly=True)

    async def set_paused(self, follower_id: UUID, copy_id: UUID, *, paused: bool) -> CopyRecord:
        return await self._db.transact(lambda uow: following.set_paused(uow, follower_id, copy_id, paused=paused))

    async def change_terms(self, follower_id: UUID, copy_id: UUID, terms: CopyTerms) -> CopyRecord:
        return await self._db.transact(
            lambda uow: following.change_terms(uow, self._settings, follower_id, copy_id, terms)
        )

    async def stop_copy(
        self, follower_id: UUID | None, copy_id: UUID, *, keep_positions: bool, reason: str = "stopped by you"
    ) -> CopyRecord:
        """Stop following: alerts at once; a copy once its positions are kept or sold."""
        copy = await self._db.transact(
            lambda uow: following.begin_stop(uow, follower_id, copy_id, keep_positions=keep_positions, reason=reason)
        )
        settled = await self._db.transact(functools.partial(self._settle, copy_ids=[copy.id]))
        self._wake_router()
        return settled[0] if settled else copy

    async def close_position(self, follower_id: UUID, copy_id: UUID, con_id: int) -> None:
        """Sell the copy's whole position in one instrument (the copy goes on)."""
        await self._db.transact(lambda uow: self._close_one(uow, follower_id, copy_id, con_id))
        self._wake_router()

    async def _close_one(self, uow: UnitOfWork, follower_id: UUID, copy_id: UUID, con_id: int) -> None:
        copy = await following.own_copy(uow, follower_id, copy_id)
        if copy.status is CopyStatus.STOPPED:
            raise CopyRefused("this copy is stopped")
        books = await sleeve_books(uow, [copy.id])
        quantity = books[copy.id].available_shares(con_id)
        if quantity <= 0:
            raise NotFound("copied position", con_id)
        await self._sell(uow, [(copy, con_id, quantity)], "close")

    # ---- stopping

    async def settle_stopping(self) -> int:
        """Take every stopping copy a step further, all at once: their sales go as one block per instrument
        (a market fall that hits many stop-losses costs IB a few orders, not one per copy); how many stopped."""
        stopping = await self._db.transact(lambda uow: store.copies_in(uow, CopyStatus.STOPPING), readonly=True)
        if not stopping:
            return 0
        settled = await self._db.transact(functools.partial(self._settle, copy_ids=[c.id for c in stopping]))
        self._wake_router()  # committed: the sales, if any, are due
        return sum(copy.status is CopyStatus.STOPPED for copy in settled)

    async def _settle(self, uow: UnitOfWork, copy_ids: list[UUID]) -> list[CopyRecord]:
        settled, sales = [], []
        for copy_id in copy_ids:
            copy = await store.copy_by_id(uow, copy_id, lock=True)
            if copy is None or copy.status is not CopyStatus.STOPPING or await live_orders_of_sleeve(uow, copy.id):
                continue  # stopped already, or its orders end first (a fill, a cancel, the day's end)
            shares = await sleeve_shares(uow, copy.id)
            if shares and not copy.keep_positions:
                sales += [(copy, con_id, quantity) for con_id, quantity in shares.items()]
                settled.append(copy)
            else:
                settled.append(await following.finish_stop(uow, copy))
        await self._sell(uow, sales, "stop")
        return settled

    async def _sell(self, uow: UnitOfWork, sales: list[tuple[CopyRecord, int, Decimal]], why: str) -> None:
        """Market sales of copies' shares, one block per instrument."""
        per_instrument: dict[int, list[BlockOrder]] = defaultdict(list)
        for copy, con_id, quantity in sales:
            key = f"copy/{copy.id}/{why}/{uow.ids.new_id()}"
            per_instrument[con_id].append(BlockOrder(copy.holder, quantity, key))
        symbols = await symbols_of(uow, per_instrument)
        for con_id, orders in sorted(per_instrument.items()):
            try:
                await place_market_block(uow, self._settings, con_id, symbols[con_id], OrderSide.SELL, orders)
            except TradingHalted:
                log.warning("copies' sales of %s wait: trading is halted", symbols[con_id])

    # ---- stop-loss and take-profit

    async def watch_limits(self) -> int:
        """Close every copy whose stop-loss or take-profit its equity has reached; how many."""
        copies = [c for c in await self._live_copies() if c.invested > 0]
        if not copies:
            return 0
        books = await self._db.transact(lambda uow: sleeve_books(uow, [c.id for c in copies]), readonly=True)
        try:
            prices = await self._prices({con_id for b in books.values() for con_id in b.shares})
        except BrokerUnavailable:
            return 0
        hits = [(copy, reason) for copy in copies if (reason := limit_hit(copy, books[copy.id].equity(prices)))]
        for copy, reason in hits:
            await self._db.transact(
                functools.partial(following.begin_stop, follower_id=None, copy_id=copy.id, keep_positions=False,
                                  reason=reason)
            )  # fmt: skip
        if hits:
            await self.settle_stopping()  # their sales together: one block per instrument
        return len(hits)

    async def _live_copies(self) -> list[CopyRecord]:
        """Copies that trade (not alerts), active or paused."""
        found = []
        for status in (CopyStatus.ACTIVE, CopyStatus.PAUSED):
            found += await self._db.transact(functools.partial(store.copies_in, status=status), readonly=True)
        return [c for c in found if c.mode is CopyMode.COPY]

    # ---- profit shares

    async def charge_profit_shares(self, month_end: date) -> Decimal:
        """Each copy's profit share for the month ending `month_end`, at today's prices (run once the month is
        over; charging a month twice pays nothing more); the total paid."""
        copies = await self._live_copies()
        leaders = await self._db.transact(lambda uow: store.leaders(uow, LeaderStatus.ACTIVE), readonly=True)
        sharing = {leader.user_id: leader for leader in leaders if leader.profit_share_pct > 0}
        copies = [c for c in copies if c.leader_id in sharing]
        if not copies:
            return Decimal(0)
        books = await self._db.transact(lambda uow: sleeve_books(uow, [c.id for c in copies]), readonly=True)
        prices = await self._prices({con_id for b in books.values() for con_id in b.shares})
        paid = Decimal(0)
        for copy in copies:
            equity = books[copy.id].equity(prices)
            leader = sharing[copy.leader_id]
            paid += await self._db.transact(
                functools.partial(profit_share.charge, copy_id=copy.id, leader=leader, equity=equity, period=month_end)
            )
        return paid

    # ---- leaders' equity curves

    async def record_leader_equity(self) -> int:
        """Each active leader's equity now, as today's point of their curve (their statistics' source)."""
        today = trade_date(self._db.clock.now())
        leaders = await self._db.transact(lambda uow: store.leaders(uow, LeaderStatus.ACTIVE), readonly=True)
        for leader in leaders:
            own = await self._db.transact(functools.partial(book, owner_id=leader.user_id, today=today), readonly=True)
            prices = await self._prices(h.con_id for h in own.holdings)
            equity = own.cash + sum((h.quantity * prices[h.con_id] for h in own.holdings), Decimal(0))
            await self._db.transact(functools.partial(record_equity, owner_id=leader.user_id, day=today, equity=equity))
        return len(leaders)

    async def _prices(self, con_ids: Iterable[int]) -> dict[int, Decimal]:
        """The market price of each instrument (the last trade, else the previous close, else the midpoint);
        BrokerUnavailable if one has none (the signal waits for the market)."""
        prices = {}
        for con_id in sorted(set(con_ids)):
            quote = await self._market.quote(con_id)
            mid = (quote.bid + quote.ask) / 2 if quote.bid and quote.ask else None
            price = quote.last or quote.close or mid
            if not price:
                raise BrokerUnavailable(f"no price for instrument {con_id}")
            prices[con_id] = price
        return prices


def last_month_end(today: date) -> date:
    return today.replace(day=1) - timedelta(days=1)


def limit_hit(copy: CopyRecord, equity: Decimal) -> str | None:
    """Why the copy must close now, if its equity has reached its stop-loss or take-profit."""
    if copy.stop_loss_pct is not None and equity <= copy.invested * (1 - copy.stop_loss_pct / HUNDRED):
        return f"stop-loss hit: the copy lost {copy.stop_loss_pct}% of what was put in"
    if copy.take_profit_pct is not None and equity >= copy.invested * (1 + copy.take_profit_pct / HUNDRED):
        return f"take-profit hit: the copy gained {copy.take_profit_pct}% on what was put in"
    return None
