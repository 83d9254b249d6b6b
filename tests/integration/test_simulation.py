"""The deterministic simulation (tests/sim) in CI: a fixed set of seeds, each a few simulated days of random
actions by many investors under faults (gateway drops and restarts, duplicate and corrected executions,
withheld commission reports, partial fills, our process dying between steps or at any commit, the bank
refusing and returning payouts), every invariant checked after every step;
and a seed run twice gives the same trace. Longer runs: `python -m tests.sim --seeds 50 --steps 1000`."""

from __future__ import annotations

import random
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import delete

from core.outbox import OUTBOX
from tests.sim.invariants import violations
from tests.sim.run import FAULTS, Outcome, Run, simulate
from tests.sim.world import World

SEEDS = (1, 2, 3)


@pytest.mark.parametrize("seed", SEEDS)
async def test_a_seeded_run_under_faults_keeps_every_invariant(seed: int) -> None:
    outcome = await simulate(seed, steps=150)
    assert outcome.violations == []
    assert sum(outcome.faults.values()) >= 15 and len(outcome.faults) >= len(FAULTS) - 4  # faults of most kinds
    assert outcome.days >= 2 and outcome.actions["buy"] >= 20
    assert sum(outcome.deaths.values()) >= 2  # the process died at commits, and came back


async def test_a_seed_reproduces_exactly() -> None:
    first, again = await simulate(11, steps=80), await simulate(11, steps=80)
    assert first.trace == again.trace
    assert first.line() == again.line()


async def test_the_invariants_catch_books_that_drift_from_ib_the_bank_or_the_fills(tmp_path: Path) -> None:
    """The checks are not vacuous: IB's cash moving without the books, money the bank received that the books
    never heard of, a withdrawal the chat said was made that was not, and a fill nobody was told of, are
    reported. (A cached balance edited behind the ledger's
    back cannot even be written: a trigger refuses it.)"""
    world = World(3, tmp_path)
    await world.start(investors=2)
    try:
        run = Run(world, random.Random(3), Outcome(3))
        await run.buy()
        await world.settle()
        assert await violations(world) == []
        world.sim.account.cash += Decimal(1)
        assert any("IB cash" in found for found in await violations(world))
        world.sim.account.cash -= Decimal(1)
        world.bank.received["lost-transfer"] = Decimal(250)
        assert any("lost-transfer of 250 received by the bank" in found for found in await violations(world))
        del world.bank.received["lost-transfer"]
        world.chat_withdrawals["bot/never-made"] = "made"  # the chat said so, and there is no such withdrawal
        assert any("bot/never-made was made 0 times" in found for found in await violations(world))
        del world.chat_withdrawals["bot/never-made"]
        untold = delete(OUTBOX).where(OUTBOX.c.key.like("filled/%"))  # the fill's notice lost
        await world.db.transact(lambda uow: uow.connection.execute(untold))
        assert any("its notices say 0" in found for found in await violations(world))
    finally:
        await world.stop()
