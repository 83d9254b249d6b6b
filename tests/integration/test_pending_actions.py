"""Pending actions behind buttons: taken once, by their own user, before they expire; declining withdraws them;
one thing at a time waits for a fresh code."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot import fresh_code
from core import pending_actions
from core.clock import ManualClock
from core.db import Database
from core.errors import ActionUnavailable
from tests.support import new_investor

TTL = timedelta(minutes=2)


async def test_an_action_is_taken_once_by_its_own_user_before_it_expires(db: Database, clock: ManualClock) -> None:
    alice, bob = await new_investor(db), await new_investor(db)
    offered = await db.transact(lambda uow: pending_actions.offer(uow, alice, "order", {"symbol": "AAPL"}, TTL))
    assert len(offered.token) <= 20
    with pytest.raises(ActionUnavailable) as refused:
        await db.transact(lambda uow: pending_actions.take(uow, offered.token, bob))
    assert refused.value.reason == "unknown"  # another user's action reads as no action at all
    with pytest.raises(ActionUnavailable):
        await db.transact(lambda uow: pending_actions.take(uow, offered.token, alice, "withdrawal"))
    taken = await db.transact(lambda uow: pending_actions.take(uow, offered.token, alice, "order"))
    assert taken.payload == {"symbol": "AAPL"}
    with pytest.raises(ActionUnavailable) as again:
        await db.transact(lambda uow: pending_actions.take(uow, offered.token, alice))
    assert again.value.reason == "used"

    late = await db.transact(lambda uow: pending_actions.offer(uow, alice, "order", {}, TTL))
    clock.advance(TTL)
    with pytest.raises(ActionUnavailable) as expired:
        await db.transact(lambda uow: pending_actions.take(uow, late.token, alice))
    assert expired.value.reason == "expired"

    declined = await db.transact(lambda uow: pending_actions.offer(uow, alice, "order", {}, TTL))
    await db.transact(lambda uow: pending_actions.withdraw(uow, declined.token, alice))
    with pytest.raises(ActionUnavailable):
        await db.transact(lambda uow: pending_actions.take(uow, declined.token, alice))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(asks=st.lists(st.sampled_from([*fresh_code.KINDS, "order"]), min_size=1, max_size=8))
async def test_one_thing_at_a_time_waits_for_a_code(db: Database, asks: list[str]) -> None:
    """Whatever a user asked in between, only the newest request that waits for a code can take the next one;
    actions behind buttons (an order preview) are left as they were."""
    user = await new_investor(db)
    buttons, waiting = [], None
    for kind in asks:
        if kind == "order":
            buttons.append(await db.transact(lambda uow: pending_actions.offer(uow, user, "order", {}, TTL)))
            continue
        told = await db.transact(lambda uow, k=kind: fresh_code.ask_for_code(uow, user, k, {"kind": k}, TTL))
        said = f"(This replaces {fresh_code.WORDS[waiting]} that waited for a code.)\n" if waiting else ""
        assert told == said  # the user is told what their new request replaced
        waiting = kind
    live = {
        kind
        for kind in fresh_code.KINDS
        if await db.transact(lambda uow, k=kind: pending_actions.waiting(uow, user, k))
    }
    assert live == ({waiting} if waiting else set())
    for button in buttons:
        assert await db.transact(lambda uow, b=button: pending_actions.peek(uow, b.token, user, "order"))
