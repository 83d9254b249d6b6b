"""Alerts and protective orders through the chat, end to end: set an alert (and be told what is wrong with a bad
one), list and delete it (another investor's forged Delete finds nothing), protect a position with a stop
confirmed from its preview, and see it sell when the simulated price falls to it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pyotp

from broker.order_requests import OrderRequest
from broker.order_states import OrderSide
from core import user_service
from ledger import operations
from tests.botchat import BotDesk, enrol, onboard
from tests.integration.trading_desk import Desk
from tests.support import eventually

ERIN, MALLORY = 8701, 8702


async def test_alerts_and_a_stop_through_the_chat(trading_bot: BotDesk, desk: Desk) -> None:
    bot, clock = trading_bot, trading_bot.clock
    chat, other = bot.chat(ERIN), bot.chat(MALLORY)
    await onboard(chat)
    await onboard(other)
    secret = await enrol(bot, chat)
    user = await bot.services.db.transact(lambda uow: user_service.find_by_telegram_id(uow, ERIN))
    assert user is not None
    await bot.services.db.transact(lambda uow: operations.deposit(uow, user.id, Decimal(10_000), key="dep-erin"))
    desk.sim.set_price("AAPL", Decimal(200))

    assert "Alert set: AAPL above $500.00" in (await chat.send("/alert AAPL above 500"))[0]["text"]
    assert "already above $1.00" in (await chat.send("/alert AAPL above 1"))[0]["text"]
    assert "'sideways' is not above, below or move" in (await chat.send("/alert AAPL sideways 5"))[0]["text"]
    assert "repeating (at most every 2 h)" in (await chat.send("/alert aapl move 5% repeat 2h"))[0]["text"]
    listing = (await chat.send("/alerts"))[0]
    assert "1. AAPL above $500.00" in listing["text"] and "2. AAPL moves 5% from $200.00" in listing["text"]
    first = next(data for label, data in listing["buttons"] if label == "Delete 1")
    own = (await other.send("/alerts"))[0]  # a message of Mallory's own, to forge a press on
    await other.answer_to(await other.press_data(own["message_id"], first, forge=True))
    assert "could not find that alert" in (await other.replies(1))[-1]["text"]
    await chat.answer_to(await chat.press_data(listing["message_id"], first))  # the list is edited, not sent
    await eventually(lambda: _reads(chat, listing["message_id"], "1. AAPL moves 5%"), what="the list edited")

    assert "alerts (your price alerts): silent" in (await chat.send("/notifications alerts silent"))[0]["text"]
    desk.sim.set_price("AAPL", Decimal(211))
    await eventually(lambda: chat.saw("Price alert: AAPL moved +5.5% to $211.00"), what="the move alert")
    [moved] = [m for m in await chat.messages() if "Price alert" in (m["text"] or "")]
    assert moved["silent"]  # as chosen

    bought = await bot.services.broker.trading.place_order(OrderRequest(user.id, "erin-1", "AAPL", OrderSide.BUY, 10))
    await eventually(lambda: chat.saw("Bought 10 AAPL"), what="the purchase")
    await chat.replies(0)
    locked = await chat.send("/stop AAPL 190")
    assert "Trading is locked" in locked[0]["text"]
    clock.advance(timedelta(seconds=30))
    await chat.send(pyotp.TOTP(secret).at(clock.now()))
    preview = (await chat.send("/stop AAPL 190"))[0]
    assert "When the price falls to $190.00, sell 10 shares (all you hold then) at market" in preview["text"]
    confirm = next(data for label, data in preview["buttons"] if label == "Confirm")
    await chat.answer_to(await chat.press_data(preview["message_id"], confirm))
    await eventually(lambda: _reads(chat, preview["message_id"], "Set. Stop: sell all shares of AAPL"), what="set")
    assert "Stop: sell all shares of AAPL at or below $190.00" in (await chat.send("/alerts"))[0]["text"]

    desk.sim.set_price("AAPL", Decimal("189.50"))
    await eventually(lambda: chat.saw("Your stop on AAPL was hit"), what="the stop told")
    await eventually(lambda: chat.saw("Sold 10 AAPL"), what="the sale filled")
    assert bought.quantity == 10
    [stopped] = [m for m in await chat.messages() if "Your stop on AAPL was hit" in (m["text"] or "")]
    assert not stopped["silent"]  # a sale is always told aloud
    await desk.assert_matches_simulator()


async def _reads(chat: object, message_id: int, text: str) -> bool:
    messages = await chat.messages()  # type: ignore[attr-defined]
    return any(m["message_id"] == message_id and text in m["text"] for m in messages)
