"""One seeded run: random actions of many investors over simulated days, faults among them, each step settled
and every invariant checked after it (tests/sim/invariants.py). The trace (what was done and what came of it)
is hashed: the same seed gives the same digest, so a failing seed reproduces exactly."""

from __future__ import annotations

import hashlib
import random
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import select

from broker.order_store import ORDERS
from core.errors import DomainError
from ledger.models import Account

from .actions import ACTIONS
from .faults import FAULTS, Faults
from .invariants import FILL_TEXTS, violations
from .mortal import Crashed
from .world import NotSettled, World

ACCOUNTS = Account.__table__
RETRIED = 0.7  # how often what a dead process was doing is asked again (the user taps again, the update returns)


@dataclass
class Outcome:
    seed: int
    days: int = 1
    actions: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    trace: list[str] = field(default_factory=list)
    deaths: Counter[str] = field(default_factory=Counter)  # where our process died, by what it was committing
    telegram: dict[str, int] = field(default_factory=dict)  # what the emulated Telegram saw

    def line(self) -> dict[str, Any]:
        return {
            "seed": self.seed,
            "days": self.days,
            "actions": sum(self.actions.values()),
            "by_action": dict(sorted(self.actions.items())),
            "faults": dict(sorted(self.faults.items())),
            "deaths": dict(sorted(self.deaths.items())),
            "telegram": self.telegram,
            "violations": len(self.violations),
            "first_violations": self.violations[:5],
            "digest": hashlib.sha256("\n".join(self.trace).encode()).hexdigest()[:16],
        }


class Run(Faults):
    async def step(self, number: int) -> None:
        table = ACTIONS | FAULTS
        kind = self.rng.choices(list(table), weights=list(table.values()))[0]
        (self.outcome.faults if kind in FAULTS else self.outcome.actions)[kind] += 1
        self.again = None
        try:
            try:
                await getattr(self, kind)()
            except (Exception, Crashed):
                if not self.world.process.dead:
                    raise
                await self.restart(retry=True)  # it died under the step (whatever it raised on the way)
            await self.settled()
        except NotSettled as stuck:
            raise Stuck(f"step {number} ({kind}): did not settle: {stuck}") from stuck
        except Exception as failed:  # a service that raised what it should have refused politely, or a bug
            raise Stuck(f"step {number} ({kind}): {type(failed).__name__}: {failed}") from failed
        found = await violations(self.world)
        self.outcome.violations += [f"step {number} ({kind}): {v}" for v in found]
        self.note(await self.world.db.transact(_state, readonly=True))  # what the step settled into

    async def settled(self) -> None:
        while True:
            try:
                return await self.world.settle()
            except Crashed:  # a task of its own died at a commit: a fill's booking, a status, a cancel
                await self.restart(retry=False)

    async def restart(self, *, retry: bool) -> None:
        """A new process takes over from the dead one; what the user (or Telegram, or the bank) was asking when
        it died may come again, and must then come to the same thing."""
        died_at = self.world.process.died_at
        self.outcome.deaths[died_at] += 1
        await self.world.crash()
        self.note(f"our process died {died_at}; a new one started")
        if retry and self.again is not None and self.rng.random() < RETRIED:
            try:
                await self.again()
            except DomainError as refused:
                self.note(f"asked again: refused: {type(refused).__name__}")
                return
            self.note("asked again")


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


class Stuck(Exception):
    """A step that did not settle, or raised: the run stops there (what follows would not be the seed's)."""


async def simulate(seed: int, steps: int, investors: int = 8, folder: Path | None = None) -> Outcome:
    outcome = Outcome(seed)
    with tempfile.TemporaryDirectory() as scratch:
        world = World(seed, folder or Path(scratch))
        await world.start(investors)
        run = Run(world, random.Random(seed), outcome)
        try:
            for number in range(steps):
                await run.step(number)
        except Stuck as stuck:
            outcome.violations.append(str(stuck))
        finally:
            telegram = world.telegram.world
            shown = [m for chat in telegram.chats.values() for m in chat if m.text.startswith(FILL_TEXTS)]
            outcome.telegram = {"fill_messages": len(shown), "refused_for_flood": telegram.refused_for_flood}
            await run.chats.close()
            await world.stop()
    return outcome
