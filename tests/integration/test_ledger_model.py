"""The ledger against a plain-Python model of it, driven by Hypothesis through random sequences of deposits,
withdrawals, transfers, fees, holds (placed, posted in part, released, voided), buys, sells and replays.

After every step, on SQLite and on PostgreSQL: the ledger and the model agree on every balance, every hold and
every position's cost basis and realized P&L; a refused command was refused by both, for the same reason, and
changed nothing; each asset's postings sum to zero; each cached balance equals its postings; no investor is
below zero.
"""

from __future__ import annotations

import asyncio
import itertools
import shutil
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    initialize,
    invariant,
    rule,
    run_state_machine_as_test,
)

from core.clock import ManualClock
from core.db import Database
from core.errors import DomainError
from ledger import operations, service, store
from ledger.accounts import AccountKind, Asset
from ledger.entries import PostedEntry
from ledger.holds import HoldStatus
from ledger.integrity import check_books
from ledger.trades import Trade, TradeSide, book_trade
from tests.conftest import ENGINES, START, PostgresServer, make_database, pg_dsn, unavailable
from tests.support import AAPL, SPY, add_instruments, new_investor

T = TypeVar("T")
USD = Asset.cash()
SHARES = [Asset.instrument(AAPL.con_id), Asset.instrument(SPY.con_id)]
CREDIT_NORMAL = {
    AccountKind.INVESTOR_CASH,
    AccountKind.INVESTOR_POSITION,
    AccountKind.HOUSE_FEES,
    AccountKind.HOUSE_ERROR,
}
NO_NEGATIVE = {AccountKind.INVESTOR_CASH, AccountKind.INVESTOR_POSITION}
Key = tuple[AccountKind, Asset, uuid.UUID | None]

deposits = st.integers(100_000, 5_000_000).map(lambda n: Decimal(n).scaleb(-2))
cents = st.integers(1, 500_000).map(lambda n: Decimal(n).scaleb(-2))
prices = st.integers(1, 2_000_000).map(lambda n: Decimal(n).scaleb(-4))
commissions = st.integers(0, 60_000).map(lambda n: Decimal(n).scaleb(-4))


def half_even(amount: Decimal, places: int) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)


@dataclass
class ModelHold:
    key: Key
    amount: Decimal
    posted: Decimal = Decimal(0)
    released: Decimal = Decimal(0)
    status: str = "pending"

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.posted - self.released


class Model:
    """Balances on each account's normal side, holds and positions, as a person would keep them on paper."""

    def __init__(self, balances: dict[Key, Decimal]) -> None:
        self.balances = balances
        self.holds: dict[uuid.UUID, ModelHold] = {}
        self.books: dict[Key, tuple[Decimal, Decimal]] = {}  # position -> (cost basis, realized P&L)

    def held(self, key: Key) -> Decimal:
        return sum((h.remaining for h in self.holds.values() if h.key == key and h.status == "pending"), Decimal(0))

    def available(self, key: Key) -> Decimal:
        return self.balances.get(key, Decimal(0)) - self.held(key)

    def move(self, changes: dict[Key, Decimal], hold: uuid.UUID | None = None) -> bool:
        """Apply the changes if no investor account would go below zero; True when applied."""
        consumed = Decimal(0)
        if hold is not None:
            consumed = min(self.holds[hold].remaining, max(-changes[self.holds[hold].key], Decimal(0)))
        for key, change in changes.items():
            freed = consumed if hold is not None and key == self.holds[hold].key else Decimal(0)
            if change < 0 and key[0] in NO_NEGATIVE and self.available(key) + freed + change < 0:
                return False
        for key, change in changes.items():
            self.balances[key] = self.balances.get(key, Decimal(0)) + change
        if hold is not None and consumed:
            self.holds[hold].posted += consumed
            if self.holds[hold].remaining == 0:
                self.holds[hold].status = "posted"
        return True


class LedgerMachine(RuleBasedStateMachine):
    investors = Bundle("investors")
    holds = Bundle("holds")
    # What every order rule draws: who, what, which way, how many and at what price.
    ORDER: ClassVar[dict[str, Any]] = {
        "investor": investors,
        "share": st.sampled_from(SHARES),
        "side": st.sampled_from(TradeSide),
        "quantity": st.integers(1, 30),
        "price": prices,
    }

    def __init__(self, db: Database, run: Callable[[Awaitable[Any]], Any]) -> None:
        super().__init__()
        self.db, self.run = db, run
        self.keys = (f"{uuid.uuid4().hex[:8]}-{n}" for n in itertools.count())
        platform = [
            (kind, asset, None)
            for kind, asset in [
                (AccountKind.BANK, USD),
                (AccountKind.BROKER_CASH, USD),
                (AccountKind.HOUSE_FEES, USD),
                (AccountKind.HOUSE_ERROR, USD),
                *((AccountKind.BROKER_POSITION, share) for share in SHARES),
            ]
        ]
        opened = self.transact(lambda uow: service.open_accounts(uow, platform))
        self.model = Model({key: account.balance for key, account in zip(platform, opened, strict=True)})
        self.replayable: list[tuple[Callable[[Any], Awaitable[Any]], Any]] = []

    def transact(self, work: Callable[[Any], Awaitable[T]]) -> T:
        return self.run(self.db.transact(work))  # type: ignore[no-any-return]

    def attempt(self, work: Callable[[Any], Awaitable[Any]], expected_ok: bool) -> Any:
        """Run the command; it must succeed exactly when the model said so, and replay to the same result."""
        try:
            result = self.transact(work)
        except DomainError as refusal:
            assert not expected_ok, f"ledger refused what the model allowed: {refusal}"
            return None
        assert expected_ok, "ledger allowed what the model refused"
        self.replayable.append((work, result))
        return result

    def funded_investor(self, amount: Decimal) -> uuid.UUID:
        investor: uuid.UUID = self.run(new_investor(self.db))
        self.deposit(investor, amount)
        return investor

    @initialize(target=investors, amount=deposits)
    def first_investor(self, amount: Decimal) -> uuid.UUID:
        return self.funded_investor(amount)

    @rule(target=investors, amount=deposits)
    def another_investor(self, amount: Decimal) -> uuid.UUID:
        return self.funded_investor(amount)

    @rule(investor=investors, amount=deposits)
    def deposit(self, investor: uuid.UUID, amount: Decimal) -> None:
        ok = self.model.move(
            {(AccountKind.BANK, USD, None): amount, (AccountKind.INVESTOR_CASH, USD, investor): amount}
        )
        key = next(self.keys)
        self.attempt(lambda uow: operations.deposit(uow, investor, amount, key=key), ok)

    @rule(investor=investors, amount=cents)
    def withdraw(self, investor: uuid.UUID, amount: Decimal) -> None:
        ok = self.model.move(
            {(AccountKind.BANK, USD, None): -amount, (AccountKind.INVESTOR_CASH, USD, investor): -amount}
        )
        key = next(self.keys)
        self.attempt(lambda uow: operations.withdraw(uow, investor, amount, key=key), ok)

    @rule(payer=investors, payee=investors, amount=cents)
    def transfer(self, payer: uuid.UUID, payee: uuid.UUID, amount: Decimal) -> None:
        if payer == payee:
            return
        ok = self.model.move(
            {
                (AccountKind.INVESTOR_CASH, USD, payer): -amount,
                (AccountKind.INVESTOR_CASH, USD, payee): amount,
            }
        )
        key = next(self.keys)
        self.attempt(lambda uow: operations.transfer(uow, payer, payee, amount, key=key), ok)

    @rule(investor=investors, amount=cents)
    def fee(self, investor: uuid.UUID, amount: Decimal) -> None:
        ok = self.model.move(
            {(AccountKind.INVESTOR_CASH, USD, investor): -amount, (AccountKind.HOUSE_FEES, USD, None): amount}
        )
        key = next(self.keys)
        self.attempt(lambda uow: operations.charge_fee(uow, investor, amount, key=key), ok)

    def hold(self, investor: uuid.UUID, on_shares: bool, share: Asset, amount: Decimal) -> uuid.UUID | None:
        kind, asset = (AccountKind.INVESTOR_POSITION, share) if on_shares else (AccountKind.INVESTOR_CASH, USD)
        model_key = (kind, asset, investor)
        ok = self.model.available(model_key) >= amount
        account = self.transact(lambda uow: service.open_account(uow, kind, asset, investor))
        key = next(self.keys)
        hold = self.attempt(lambda uow: service.place_hold(uow, account.id, amount, key=key, reason="test"), ok)
        if hold is None:
            return None
        self.model.holds[hold.id] = ModelHold(model_key, amount)
        return hold.id  # type: ignore[no-any-return]

    def settle(self, hold: uuid.UUID, void: bool) -> None:
        model = self.model.holds[hold]
        target = "voided" if void else "released"
        ok = model.status == target or (model.status == "pending" and not (void and model.posted))
        settle = service.void_hold if void else service.release_hold
        result = self.attempt(lambda uow: settle(uow, hold), ok)
        if result is not None and model.status == "pending":
            model.released += model.remaining
            model.status = target

    def trade(
        self,
        investor: uuid.UUID,
        share: Asset,
        side: TradeSide,
        qty: Decimal,
        price: Decimal,
        commission: Decimal,
        hold: uuid.UUID | None,
    ) -> None:
        position = (AccountKind.INVESTOR_POSITION, share, investor)
        cash = (AccountKind.INVESTOR_CASH, USD, investor)
        gross = half_even(qty * price, 10)
        sign = 1 if side is TradeSide.BUY else -1
        investor_out = half_even(gross, 2) * sign + half_even(commission, 2)
        broker_out = gross * sign + commission
        changes = {
            cash: -investor_out,
            (AccountKind.BROKER_CASH, USD, None): -broker_out,
            (AccountKind.HOUSE_ERROR, USD, None): investor_out - broker_out,
            position: qty * sign,
            (AccountKind.BROKER_POSITION, share, None): qty * sign,
        }
        ok = self.model.move(changes, hold)
        trade = Trade(next(self.keys), investor, share.con_id or 0, side, qty, price, commission, hold)
        if self.attempt(lambda uow: book_trade(uow, trade), ok) is not None:
            basis, realized = self.model.books.get(position, (Decimal(0), Decimal(0)))
            held_before = self.model.balances[position] - qty * sign
            if side is TradeSide.BUY:
                basis += investor_out
            else:
                released = basis if qty == held_before else half_even(basis * qty / held_before, 2)
                basis, realized = basis - released, realized - investor_out - released
            self.model.books[position] = (basis, realized)

    @rule(
        target=holds,
        investor=investors,
        on_shares=st.booleans(),
        share=st.sampled_from(SHARES),
        amount=cents,
        shares=st.integers(1, 10),
    )
    def place_hold(self, investor: uuid.UUID, on_shares: bool, share: Asset, amount: Decimal, shares: int) -> Any:
        return self.hold(investor, on_shares, share, Decimal(shares) if on_shares else amount)

    @rule(hold=holds, void=st.booleans())
    def settle_hold(self, hold: uuid.UUID | None, void: bool) -> None:
        if hold is not None:  # None: a hold that was refused
            self.settle(hold, void)

    @rule(**ORDER, commission=commissions)
    def fill_without_hold(
        self,
        investor: uuid.UUID,
        share: Asset,
        side: TradeSide,
        quantity: int,
        price: Decimal,
        commission: Decimal,
    ) -> None:
        self.trade(investor, share, side, Decimal(quantity), price, commission, None)

    @rule(
        **ORDER,
        slippage=st.sampled_from([-1, 0, 0, 1]),
        fills=st.lists(st.tuples(st.integers(1, 30), commissions), min_size=1, max_size=3),
        void=st.booleans(),
    )
    def order(
        self,
        investor: uuid.UUID,
        share: Asset,
        side: TradeSide,
        quantity: int,
        price: Decimal,
        slippage: int,
        fills: list[tuple[int, Decimal]],
        void: bool,
    ) -> None:
        """An order's life: hold its cost (or its shares), fill in parts, possibly at a worse price than held
        for, then give back what is left."""
        estimate = half_even(quantity * price * Decimal("1.01"), 2) + Decimal("1.00")
        hold = self.hold(
            investor, side is TradeSide.SELL, share, Decimal(quantity) if side is TradeSide.SELL else estimate
        )
        if hold is None:
            return
        left = quantity
        for part, commission in fills:
            if left == 0:
                break
            filled = min(part, left)
            left -= filled
            fill_price = price * (1 + Decimal(slippage) / 50)
            self.trade(investor, share, side, Decimal(filled), half_even(fill_price, 4) or price, commission, hold)
        self.settle(hold, void)

    @rule(data=st.data())
    def replay(self, data: st.DataObject) -> None:
        if not self.replayable:
            return
        work, first = data.draw(st.sampled_from(self.replayable))
        again = self.transact(work)
        if isinstance(first, PostedEntry):
            assert again.replayed and again.id == first.id
        elif hasattr(first, "entry"):
            assert again.entry.replayed and again.entry.id == first.entry.id
        else:
            assert again.id == first.id

    @invariant()
    def books_are_whole_and_match_the_model(self) -> None:
        assert self.transact(check_books) == []
        keys = list(self.model.balances)
        accounts = self.transact(lambda uow: service.open_accounts(uow, keys))
        for key, account in zip(keys, accounts, strict=True):
            assert account.balance == self.model.balances[key], key
            assert account.held == self.model.held(key), key
        for hold_id, model in self.model.holds.items():
            hold = self.transact(lambda uow, h=hold_id: service.get_hold(uow, h))
            assert (hold.posted, hold.released, hold.status) == (
                model.posted,
                model.released,
                HoldStatus(model.status),
            )
        for key, (basis, realized) in self.model.books.items():
            account = self.transact(lambda uow, k=key: service.open_account(uow, *k))
            assert self.transact(lambda uow, a=account.id: store.positions_books(uow, [a])).get(account.id) == (
                basis,
                realized,
            )


@pytest.mark.parametrize("engine", ENGINES)
def test_ledger_matches_its_model(engine: str, tmp_path: Path, sqlite_template: Path, postgres: PostgresServer) -> None:
    loop = asyncio.new_event_loop()
    name = None
    if engine == "sqlite":
        shutil.copyfile(sqlite_template, tmp_path / "model.db")
        url = f"sqlite:///{tmp_path / 'model.db'}"
    else:
        if postgres.error or postgres.template is None:
            unavailable(postgres.error or "no template database")
        name = loop.run_until_complete(postgres.create(f"{postgres.prefix}_model", template=postgres.template))
        url = pg_dsn(name)
    db = make_database(url, ManualClock(START))
    try:
        loop.run_until_complete(add_instruments(db, AAPL, SPY))
        run_state_machine_as_test(
            lambda: LedgerMachine(db, loop.run_until_complete),
            settings=settings(
                max_examples=30,
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        loop.run_until_complete(db.dispose())
        if name:
            loop.run_until_complete(postgres.drop(name))
        loop.close()
