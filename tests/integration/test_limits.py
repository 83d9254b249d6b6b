"""Limits an admin sets for one investor win over the platform's settings: orders a minute and the largest order
(the desk's settings allow 5 a minute and 250,000 USD)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from core.errors import OrderTooLarge, TooManyOrders
from core.limits import Overrides, limits_of, set_overrides
from tests.integration.trading_desk import Desk


async def test_an_investors_own_limits_replace_the_platforms(desk: Desk) -> None:
    tight, free = await desk.investor(), await desk.investor()
    await desk.db.transact(
        lambda uow: set_overrides(uow, tight, Overrides(orders_per_minute=1, max_order_notional=Decimal(1000)))
    )
    mine = await desk.db.transact(lambda uow: limits_of(uow, desk.settings, tight), readonly=True)
    assert (mine.orders_per_minute, mine.max_order_notional) == (1, Decimal(1000))
    assert mine.withdrawal_daily_limit == desk.settings.payments_withdrawal_daily_limit  # not set: the setting
    with pytest.raises(OrderTooLarge):
        await desk.order(tight, "buy", 10)  # about 2,300 USD
    await desk.order(tight, "buy", 1)
    with pytest.raises(TooManyOrders):
        await desk.order(tight, "buy", 1)
    for _ in range(2):
        await desk.order(free, "buy", 10)  # the platform's limits
    await desk.db.transact(lambda uow: set_overrides(uow, tight, Overrides()))
    await desk.order(tight, "buy", 4)  # back to the platform's: 2 orders this minute, under 5
