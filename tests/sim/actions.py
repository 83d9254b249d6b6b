"""What the simulated investors, admins, the market and the calendar do: one method per kind of action, each a
step of a run (tests/sim/run.py), its random choices drawn from the run's seeded stream."""

from __future__ import annotations

import itertools
import random
from collections.abc import Awaitable, Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select

from broker.order_requests import OrderRequest
from broker.order_states import OrderSide, OrderStatus
from broker.order_store import ORDERS
from copytrade.store import copies_in
from copytrade.terms import CopyMode, CopyStatus, CopyTerms
from core.errors import DomainError
from core.outbox import OUTBOX
from ledger import operations
from payments import withdrawals
from payments.providers.base import ProviderEvent
from payments.states import WithdrawalStatus

from .chats import Chats
from .world import MARGIN_EVERY, NotSettled, World

SYMBOLS = ("AAPL", "MSFT", "SPY")
ACTIONS = {  # what happens, and how often
    "buy": 30,
    "sell": 18,
    "cancel": 8,
    "repeat": 5,
    "deposit": 3,
    "bank_deposit": 4,
    "market_moves": 14,
    "end_of_day": 4,
    "withdraw": 6,
    "cancel_withdrawal": 2,
    "admin_review": 3,
    "bank_round": 4,
    "follow": 3,
    "unfollow": 2,
    "copy_round": 6,
    "notify": 10,
    "chat_trade": 12,
    "chat_withdraw": 5,
}


class Actions:
    def __init__(self, world: World, rng: random.Random, outcome: Any) -> None:
        self.world, self.rng, self.outcome = world, rng, outcome
        self.keys = itertools.count()
        self.placed: list[tuple[OrderRequest, Any]] = []
        self.again: Callable[[], Awaitable[object]] | None = None  # the step's request, as it would come again
        self.chats = Chats(world, rng)

    def note(self, text: str) -> None:
        self.outcome.trace.append(text)

    # ---- investors

    def _investor(self) -> tuple[int, Any]:
        """Anyone; the leader (investor 0) more often than the rest, so that there is something to copy."""
        n = 0 if self.rng.random() < 0.25 else self.rng.randrange(len(self.world.investors))
        return n, self.world.investors[n]

    async def _order(self, side: OrderSide) -> None:
        n, owner = self._investor()
        symbol, quantity = self.rng.choice(SYMBOLS), self.rng.randint(1, 40)
        if n % MARGIN_EVERY == MARGIN_EVERY - 1 and side is OrderSide.BUY and self.rng.random() < 0.4:
            quantity = self.rng.randint(80, 220)  # more than the cash pays for: borrowed, within margin rules
        limit = None
        if self.rng.random() < 0.4:  # a limit near the market: some fill at once, some rest
            quote = self.world.sim.quote(symbol)
            reference = quote.last or quote.bid or Decimal(100)
            limit = (reference * Decimal(str(self.rng.uniform(0.97, 1.03)))).quantize(Decimal("0.01"))
        request = OrderRequest(owner, f"sim/{next(self.keys)}", symbol, side, quantity, limit)
        self.again = lambda: self.world.trading.place_order(request)
        try:
            order = await self.world.trading.place_order(request)
        except DomainError as refused:
            self.note(f"{side.value} {n} {quantity} {symbol} refused: {type(refused).__name__}")
            return
        self.placed.append((request, order))
        self.note(f"{side.value} {n} {quantity} {symbol} @ {limit}")

    async def buy(self) -> None:
        await self._order(OrderSide.BUY)

    async def sell(self) -> None:
        await self._order(OrderSide.SELL)

    async def cancel(self) -> None:
        live = await self.world.db.transact(_live_orders, readonly=True)
        if not live:
            return
        order_id, owner = self.rng.choice(sorted(live))

        async def cancel() -> None:
            _order, block = await self.world.trading.cancel_order(owner, order_id)
            if block is not None:
                await self.world.router.cancel_requested(block)

        self.again = cancel
        try:
            await cancel()
        except DomainError as refused:
            self.note(f"cancel refused: {type(refused).__name__}")
            return
        self.note(f"cancel {order_id}")

    async def repeat(self) -> None:
        """A request sent again (a double tap, a retried update): the same order, never a second one."""
        if not self.placed:
            return
        request, first = self.rng.choice(self.placed)
        again = await self.world.trading.place_order(request)
        if again.id != first.id:
            self.outcome.violations.append(f"request {request.client_key} placed twice: {first.id} and {again.id}")
        self.note(f"repeat {request.client_key}")

    async def deposit(self) -> None:
        n, owner = self._investor()
        amount = Decimal(self.rng.randint(100, 20_000))
        key = f"sim-deposit/{next(self.keys)}"
        self.again = lambda: self.world.process.transact(lambda uow: operations.deposit(uow, owner, amount, key=key))
        for _ in range(self.rng.choice((1, 2))):  # a replayed bank statement line books once
            await self.again()
        self.note(f"deposit {n} {amount}")

    async def bank_deposit(self) -> None:
        """An investor asks how to deposit and their bank pays: the provider's webhook says so, sometimes more
        than once (the same event again, or the same transfer under a new event id); one payer in ten gets the
        reference wrong, and the money waits in suspense for an admin."""
        n, owner = self._investor()
        amount = Decimal(self.rng.randint(100, 20_000))
        instructions = await self.world.payments.deposit(owner, amount)
        typo = self.rng.random() < 0.1
        reference = "PAYMENT FOR OMNIBOT" if typo else instructions.reference
        tx_id = f"sim-tx/{next(self.keys)}"
        deliveries = self.rng.choice((1, 1, 2, 3))
        told = [f"evt/{tx_id}/{n if self.rng.random() < 0.5 else 0}" for n in range(deliveries)]
        events = [ProviderEvent(e, "transfer.received", tx_id=tx_id, amount=amount, reference=reference) for e in told]
        self.world.bank.pay_in(events)  # delivered until answered: a new process gets what the dead one did not
        await self.world.bank.deliver(self.world.payments)
        self.note(f"bank deposit {n} {amount} delivered {deliveries}x{' to suspense' if typo else ''}")

    async def withdraw(self) -> None:
        n, owner = self._investor()
        amount = Decimal(self.rng.choice((50, 200, 900, 2_500, 20_000, 60_000)))
        key = f"sim-withdrawal/{next(self.keys)}"
        self.again = lambda: self.world.payments.withdraw(owner, self.world.banks[owner], amount, key)
        for attempt in range(self.rng.choice((1, 2))):  # a double tap asks once
            try:
                record: Any = await self.again()
            except DomainError as refused:
                self.note(f"withdraw {n} {amount} refused: {type(refused).__name__}")
                return
            self.note(f"withdraw {n} {amount} ({attempt}): {record.status.value}")

    async def cancel_withdrawal(self) -> None:
        """An investor drops a withdrawal not yet on its way to the bank (or hears that it is)."""
        waiting = [*await self.world.payments.payouts(WithdrawalStatus.PENDING_REVIEW)]
        waiting += await self.world.payments.payouts(WithdrawalStatus.APPROVED)
        if not waiting:
            return
        withdrawal_id = self.rng.choice(sorted(p.withdrawal_id for p in waiting))
        owner = await self.world.db.transact(lambda uow: withdrawals.get(uow, withdrawal_id), readonly=True)
        self.again = lambda: self.world.payments.cancel(owner.owner_id, withdrawal_id)
        try:
            record: Any = await self.again()
        except DomainError as refused:
            self.note(f"cancel withdrawal {withdrawal_id} refused: {type(refused).__name__}")
            return
        self.note(f"cancel withdrawal {withdrawal_id}: {record.status.value}")

    async def admin_review(self) -> None:
        waiting = await self.world.payments.payouts(WithdrawalStatus.PENDING_REVIEW)
        if not waiting:
            return
        payout = self.rng.choice(waiting)
        approve = self.rng.random() < 0.7
        self.again = lambda: self.world.payments.review(
            payout.withdrawal_id, approve=approve, admin="admin:sim", reason="" if approve else "checks pending"
        )
        record: Any = await self.again()
        self.note(f"review {payout.withdrawal_id}: {record.status.value}")

    async def bank_round(self) -> None:
        """The payment desk's round: approved payouts to the bank, the bank's answers (paid, or refused)."""
        sent = await self.world.payments.submit_approved()
        answered = await self.world.payments.poll()
        self.note(f"bank round: {sent} sent, {answered} answered")

    # ---- copy trading (investor 0 leads)

    async def follow(self) -> None:
        n = self.rng.randrange(1, len(self.world.investors))
        follower = self.world.investors[n]
        if self.rng.random() < 0.2:
            terms = CopyTerms(CopyMode.ALERTS)
        else:
            amount = Decimal(self.rng.choice((2_000, 5_000, 10_000, 30_000)))
            terms = CopyTerms(CopyMode.COPY, amount, stop_loss_pct=Decimal(self.rng.choice((5, 20, 50))))
        self.again = lambda: self.world.copies.follow(follower, "ada", terms)
        try:
            copy: Any = await self.again()
        except DomainError as refused:
            self.note(f"follow {n} refused: {type(refused).__name__}")
            return
        self.note(f"follow {n}: {terms.mode.value} {terms.amount}: {copy.status.value}")

    async def unfollow(self) -> None:
        live = await self.world.db.transact(_live_copies, readonly=True)
        if not live:
            return
        copy_id, follower = self.rng.choice(sorted(live))
        keep = self.rng.random() < 0.5
        self.again = lambda: self.world.copies.stop_copy(follower, copy_id, keep_positions=keep)
        try:
            await self.again()
        except DomainError as refused:
            self.note(f"unfollow refused: {type(refused).__name__}")
            return
        self.note(f"unfollow {copy_id} keeping positions: {keep}")

    async def copy_round(self) -> None:
        """The copy desk's round: the leader's fills mirrored into the copies' blocks, stopping copies sold."""
        mirrored = await self.world.copies.mirror_pending()
        stopped = await self.world.copies.settle_stopping()
        self.note(f"copy round: {mirrored} mirrored, {stopped} stopped")

    # ---- Telegram

    async def notify(self) -> None:
        """The notifier's round: what the outbox holds, to the investors' chats (one a second per chat)."""
        self.note(f"notified: {await self.world.notifier.deliver_due()}")

    async def drain(self) -> None:
        """Rounds of the notifier, seconds apart, until nothing waits (a claim on what failed lapses after a
        minute): by the end of the day every notice went out. A busy chat takes a message a round, so a long
        backlog takes long; five minutes of rounds that deliver nothing at all means the notifier is stuck."""
        idle = 0
        while idle < 60:
            idle = 0 if await self.world.notifier.deliver_due() else idle + 1
            waiting = await self.world.db.transact(_notices_waiting, readonly=True)
            if not waiting:
                return
            self.world.clock.advance(timedelta(seconds=5))
        raise NotSettled(f"notices still waiting after five minutes of rounds that delivered none: {waiting[:3]}")

    # ---- the market and the calendar

    async def market_moves(self) -> None:
        for _ in range(self.rng.randint(1, 5)):
            self.world.clock.advance(timedelta(minutes=self.rng.randint(1, 20)))
            self.world.sim.step()
        self.note("market moves")

    async def end_of_day(self) -> None:
        await self.drain()
        self.world.sim.end_session()
        now = self.world.clock.now()
        days = 3 if now.weekday() == 4 else 1
        opening = (now + timedelta(days=days)).replace(hour=14, minute=30, second=0, microsecond=0)
        self.world.clock.advance(opening - now)
        self.outcome.days += 1
        self.note(f"day {self.outcome.days}")


async def _notices_waiting(uow: Any) -> list[str]:
    query = select(OUTBOX.c.key, OUTBOX.c.claimed_until).where(OUTBOX.c.processed_at.is_(None))
    return [f"{row.key} (claimed until {row.claimed_until})" for row in await uow.connection.execute(query)]


async def _live_copies(uow: Any) -> list[tuple[Any, Any]]:
    copies = [*await copies_in(uow, CopyStatus.ACTIVE), *await copies_in(uow, CopyStatus.PAUSED)]
    return [(copy.id, copy.follower_id) for copy in copies]


async def _live_orders(uow: Any) -> list[tuple[Any, Any]]:
    live = [status.value for status in OrderStatus if status.is_live]
    query = select(ORDERS.c.id, ORDERS.c.owner_id).where(ORDERS.c.status.in_(live))
    return [(row.id, row.owner_id) for row in await uow.connection.execute(query)]
