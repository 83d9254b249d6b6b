"""Pending actions behind buttons: taken once, by their own user, before they expire; declining withdraws them."""

from __future__ import annotations

from datetime import timedelta

import pytest

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
