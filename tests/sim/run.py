"""One seeded run: random actions of many investors over simulated days, faults among them, each step settled
and every invariant checked after it (tests/sim/invariants.py). The trace (what was done and what came of it)
is hashed: the same seed gives the same digest, so a failing seed reproduces exactly."""

from __future__ import annotations

import hashlib
import itertools
import random
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from broker.order_requests import OrderRequest
from broker.order_states import OrderSide, OrderStatus
from broker.order_store import ORDERS
from copytrade.store import copies_in
from copytrade.terms import CopyMode, CopyStatus, CopyTerms
from core.errors import DomainError
from ledger import operations
from ledger.models import Account
from payments.providers.base import ProviderEvent
from payments.states import WithdrawalStatus

from .invariants import violations
from .world import NotSettled, World

ACCOUNTS = Account.__table__
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
    "admin_review": 3,
    "bank_round": 4,
    "follow": 3,
    "unfollow": 2,
    "copy_round": 6,
}
FAULTS = {
    "disconnect": 3,
    "gateway_restart": 2,
    "duplicate_execution": 3,
    "corrected_execution": 2,
    "commission_withheld": 3,
    "commission_first": 2,
    "partial_fills": 3,
    "crash": 2,
    "crash_mid_order": 2,
    "payout_returned": 1,
}


@dataclass
class Outcome:
    seed: int
    days: int = 1
    actions: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)

    def line(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "days": self.days,
            "actions": sum(self.actions.values()),
            "by_action": dict(sorted(self.actions.items())),
            "faults": dict(sorted(self.faults.items())),
            "violations": len(self.violations),
            "first_violations": self.violations[:5],
            "digest": hashlib.sha256("\n".join(self.trace).encode()).hexdigest()[:16],
        }


class Run:
    def __init__(self, world: World, rng: random.Random, outcome: Outcome) -> None:
        self.world, self.rng, self.outcome = world, rng, outcome
        self.keys = itertools.count()
        self.placed: list[tuple[OrderRequest, Any]] = []

    async def step(self, number: int) -> None:
        table = ACTIONS | FAULTS
        kind = self.rng.choices(list(table), weights=list(table.values()))[0]
        (self.outcome.faults if kind in FAULTS else self.outcome.actions)[kind] += 1
        try:
            await getattr(self, kind)()
            await self.world.settle()
        except NotSettled as stuck:
            raise Stuck(f"step {number} ({kind}): did not settle: {stuck}") from stuck
        except Exception as failed:  # a service that raised what it should have refused politely, or a bug
            raise Stuck(f"step {number} ({kind}): {type(failed).__name__}: {failed}") from failed
        found = await violations(self.world)
        self.outcome.violations += [f"step {number} ({kind}): {v}" for v in found]
        self.note(await self.world.db.transact(_state, readonly=True))  # what the step settled into

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
        limit = None
        if self.rng.random() < 0.4:  # a limit near the market: some fill at once, some rest
            quote = self.world.sim.quote(symbol)
            reference = quote.last or quote.bid or Decimal(100)
            limit = (reference * Decimal(str(self.rng.uniform(0.97, 1.03)))).quantize(Decimal("0.01"))
        request = OrderRequest(owner, f"sim/{next(self.keys)}", symbol, side, quantity, limit)
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
        try:
            _order, block = await self.world.trading.cancel_order(owner, order_id)
        except DomainError as refused:
            self.note(f"cancel refused: {type(refused).__name__}")
            return
        if block is not None:
            await self.world.router.cancel_requested(block)
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
        for _ in range(self.rng.choice((1, 2))):  # a replayed bank statement line books once
            await self.world.db.transact(lambda uow: operations.deposit(uow, owner, amount, key=key))
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
        for delivery in range(deliveries):
            event_id = f"evt/{tx_id}/{delivery if self.rng.random() < 0.5 else 0}"
            event = ProviderEvent(event_id, "transfer.received", tx_id=tx_id, amount=amount, reference=reference)
            await self.world.payments.apply(self.world.payments.provider, event)
        self.note(f"bank deposit {n} {amount} delivered {deliveries}x{' to suspense' if typo else ''}")

    async def withdraw(self) -> None:
        n, owner = self._investor()
        amount = Decimal(self.rng.choice((50, 200, 900, 2_500, 20_000, 60_000)))
        key = f"sim-withdrawal/{next(self.keys)}"
        for attempt in range(self.rng.choice((1, 2))):  # a double tap asks once
            try:
                record = await self.world.payments.withdraw(owner, self.world.banks[owner], amount, key)
            except DomainError as refused:
                self.note(f"withdraw {n} {amount} refused: {type(refused).__name__}")
                return
            self.note(f"withdraw {n} {amount} ({attempt}): {record.status.value}")

    async def admin_review(self) -> None:
        waiting = await self.world.payments.payouts(WithdrawalStatus.PENDING_REVIEW)
        if not waiting:
            return
        payout = self.rng.choice(waiting)
        approve = self.rng.random() < 0.7
        record = await self.world.payments.review(
            payout.withdrawal_id, approve=approve, admin="admin:sim", reason="" if approve else "checks pending"
        )
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
        try:
            copy = await self.world.copies.follow(follower, "ada", terms)
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
        try:
            await self.world.copies.stop_copy(follower, copy_id, keep_positions=keep)
        except DomainError as refused:
            self.note(f"unfollow refused: {type(refused).__name__}")
            return
        self.note(f"unfollow {copy_id} keeping positions: {keep}")

    async def copy_round(self) -> None:
        """The copy desk's round: the leader's fills mirrored into the copies' blocks, stopping copies sold."""
        mirrored = await self.world.copies.mirror_pending()
        stopped = await self.world.copies.settle_stopping()
        self.note(f"copy round: {mirrored} mirrored, {stopped} stopped")

    # ---- the market and the calendar

    async def market_moves(self) -> None:
        for _ in range(self.rng.randint(1, 5)):
            self.world.clock.advance(timedelta(minutes=self.rng.randint(1, 20)))
            self.world.sim.step()
        self.note("market moves")

    async def end_of_day(self) -> None:
        self.world.sim.end_session()
        now = self.world.clock.now()
        days = 3 if now.weekday() == 4 else 1
        opening = (now + timedelta(days=days)).replace(hour=14, minute=30, second=0, microsecond=0)
        self.world.clock.advance(opening - now)
        self.outcome.days += 1
        self.note(f"day {self.outcome.days}")

    # ---- faults

    async def disconnect(self) -> None:
        sessions = self.world.sim.sessions_opened
        self.world.sim.drop_clients()
        await self.world.hung_up(sessions)
        self.note("gateway hangs up")

    async def gateway_restart(self) -> None:
        sessions = self.world.sim.sessions_opened
        await self.world.sim.restart(down_for=0.05)
        await self.world.hung_up(sessions)
        self.note("gateway restarts")

    async def duplicate_execution(self) -> None:
        if self.world.sim.desk.executions:
            execution = self.rng.choice(self.world.sim.desk.executions)
            self.world.sim.resend_execution(execution.exec_id)
            self.note(f"execution {execution.exec_id} sent again")

    async def corrected_execution(self) -> None:
        if self.world.sim.desk.executions:
            execution = self.rng.choice(self.world.sim.desk.executions)
            price = execution.price + Decimal("0.01") * self.rng.choice((-2, -1, 1, 2))
            self.world.sim.correct_execution(execution.exec_id, price)
            self.note(f"execution {execution.exec_id} corrected to {price}")

    async def commission_withheld(self) -> None:
        self.world.sim.plan_next_order(commission="withheld")
        await self.buy()

    async def commission_first(self) -> None:
        """IB's messages out of order: the commission report before the execution it reports on."""
        self.world.sim.plan_next_order(commission="before")
        await self.buy()

    async def partial_fills(self) -> None:
        slices = [Decimal(self.rng.randint(1, 5)) for _ in range(self.rng.randint(2, 3))]
        self.world.sim.plan_next_order(slices=slices)
        await self.buy()

    async def crash_mid_order(self) -> None:
        """The process dies right after an order's transaction committed its block as routed, before IB heard
        of it: the next process sends it, once."""
        send = self.world.trading._send_block

        async def dies(_block: object) -> None:
            return None  # the process is gone before it sends

        self.world.trading._send_block = dies
        try:
            await self.buy()
        finally:
            self.world.trading._send_block = send
        await self.world.crash()
        self.note("our process died between an order's commit and its send")

    async def payout_returned(self) -> None:
        """A bank sends back a payout it had paid (a closed account, weeks later)."""
        paid = await self.world.payments.payouts(WithdrawalStatus.SETTLED)
        if paid:
            payout = self.rng.choice(paid)
            await self.world.payments.mark(payout.withdrawal_id, WithdrawalStatus.RETURNED, "account closed")
            self.note(f"payout {payout.withdrawal_id} returned")

    async def crash(self) -> None:
        await self.world.crash()
        self.note("our process crashed and started again")


async def _state(uow: Any) -> str:
    """The settled books as a digest: every account's balance and hold, every order's status and fill (the
    trace's anchor: the same seed settles into the same books, account by account)."""
    accounts = select(ACCOUNTS.c.code, ACCOUNTS.c.balance, ACCOUNTS.c.held).order_by(ACCOUNTS.c.code)
    orders = select(ORDERS.c.id, ORDERS.c.status, ORDERS.c.filled_quantity).order_by(ORDERS.c.id)
    books = hashlib.sha256()
    for query in (accounts, orders):
        for row in await uow.connection.execute(query):
            books.update(repr(tuple(str(value) for value in row)).encode())
    return f"  books {books.hexdigest()[:16]}"


async def _live_copies(uow: Any) -> list[tuple[Any, Any]]:
    copies = [*await copies_in(uow, CopyStatus.ACTIVE), *await copies_in(uow, CopyStatus.PAUSED)]
    return [(copy.id, copy.follower_id) for copy in copies]


async def _live_orders(uow: Any) -> list[tuple[Any, Any]]:
    live = [status.value for status in OrderStatus if status.is_live]
    query = select(ORDERS.c.id, ORDERS.c.owner_id).where(ORDERS.c.status.in_(live))
    return [(row.id, row.owner_id) for row in await uow.connection.execute(query)]


class Stuck(Exception):
    """A step that did not settle, or raised: the run stops there (what follows would not be the seed's)."""


async def simulate(seed: int, steps: int, investors: int = 8, folder: Path | None = None) -> Outcome:
    outcome = Outcome(seed)
    with tempfile.TemporaryDirectory() as scratch:
        world = World(seed, folder or Path(scratch))
        await world.start(investors)
        try:
            run = Run(world, random.Random(seed), outcome)
            for number in range(steps):
                await run.step(number)
        except Stuck as stuck:
            outcome.violations.append(str(stuck))
        finally:
            await world.stop()
    return outcome
