"""Trading from the chat, end to end: the real python-telegram-bot over HTTP against the emulator, the real
ib_async client against the IB simulator. Register, enrol, deposit, buy (unlocking trading on the way),
confirm, the fill pushed and the preview edited, sell everything, and the buttons that must place nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pyotp

from broker.order_states import OrderStatus
from core import user_service
from ledger import operations
from tests.botchat import BotDesk, Chat, enrol, onboard
from tests.integration.trading_desk import Desk
from tests.support import eventually

ALICE, BOB = 6001, 6002


async def investor(bot: BotDesk, user_id: int, cash: str = "10000.00") -> tuple[Chat, str]:
    chat = bot.chat(user_id)
    await onboard(chat)
    secret = await enrol(bot, chat)
    user = await bot.services.db.transact(lambda uow: user_service.find_by_telegram_id(uow, user_id))
    assert user is not None
    await bot.services.db.transact(lambda uow: operations.deposit(uow, user.id, Decimal(cash), key=f"dep-{user_id}"))
    bot.clock.advance(timedelta(seconds=30))  # the enrolment's code is spent: the next one is a new step
    return chat, secret


def code(bot: BotDesk, secret: str) -> str:
    return pyotp.TOTP(secret).at(bot.clock.now())


async def test_buy_and_sell_from_the_chat_with_the_fill_pushed(trading_bot: BotDesk, desk: Desk) -> None:
    chat, secret = await investor(trading_bot, ALICE)
    locked = await chat.send("/buy AAPL 10")
    assert "Trading is locked" in locked[0]["text"]
    unlocked = await chat.send(code(trading_bot, secret), replies=2)  # unlocked, then the preview it waited for
    assert "unlocked" in unlocked[0]["text"]
    preview = unlocked[1]
    assert "Buy 10 AAPL" in preview["text"] and "Buying power: $10,000.00 →" in preview["text"]
    assert [label for label, _data in preview["buttons"]] == ["Confirm", "Cancel"]

    await chat.press(preview, "Confirm")
    await eventually(lambda: chat.saw("Bought 10 AAPL"), what="the fill pushed")
    await eventually(lambda: _edited_to(chat, preview["message_id"], "Status: Filled"), what="the preview followed")
    await chat.replies(0)

    again = await chat.press_data(preview["message_id"], preview["buttons"][0][1], forge=True)  # a second tap
    await chat.answer_to(again)
    assert "already used" in (await chat.replies(1))[-1]["text"]
    orders = await trading_bot.services.broker.trading.recent_orders(await _user_id(trading_bot, ALICE))
    assert [o.status for o in orders] == [OrderStatus.FILLED]  # one order, however many taps

    held = (await chat.send("/portfolio"))[0]["text"]
    assert "AAPL" in held and "10 @" in held and "10.000" not in held and "Equity:" in held and "Buying power:" in held
    drawn = (await chat.send("/chart"))[0]
    assert drawn["photo"] is not None
    png = (await trading_bot.http.get(drawn["photo"])).content
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and int.from_bytes(png[16:20], "big") == 800  # 800 x 1000
    assert "Excess liquidity" in (await chat.send("/margin"))[0]["text"]

    sale = await chat.send("/sell AAPL all")
    assert "Sell 10 AAPL" in sale[0]["text"]
    await chat.press(sale[0], "Confirm")
    await eventually(lambda: chat.saw("Sold 10 AAPL"), what="the sale pushed")
    await chat.replies(0)
    listed = (await chat.send("/orders"))[0]["text"]
    assert "Recently ended" in listed and listed.count("Filled") == 2
    assert "Realized:" in (await chat.send("/pnl"))[0]["text"]
    moves = (await chat.send("/history"))[0]["text"]
    assert "trade" in moves and "deposit" in moves
    await desk.assert_matches_simulator()


async def test_buttons_that_must_place_nothing(trading_bot: BotDesk) -> None:
    alice, secret = await investor(trading_bot, ALICE)
    bob, _ = await investor(trading_bot, BOB)
    await alice.send(f"/unlock {code(trading_bot, secret)}")
    preview = (await alice.send("/buy AAPL 1"))[0]
    token_data = preview["buttons"][0][1]

    bobs_message = (await bob.send("/help"))[0]
    await bob.press_data(bobs_message["message_id"], token_data, forge=True)  # Alice's Confirm, pressed by Bob
    assert "already used" in (await bob.replies(1))[-1]["text"]  # to Bob it is no action at all

    trading_bot.clock.advance(timedelta(seconds=trading_bot.services.settings.bot_confirm_seconds))
    await alice.press(preview, "Confirm")
    assert "expired" in (await alice.messages())[-1]["text"]
    cancelled = (await alice.send("/buy AAPL 1"))[0]
    assert "Cancelled. Nothing was sent." in (await alice.press(cancelled, "Cancel"))[-1]["text"]
    assert not await trading_bot.services.broker.trading.recent_orders(await _user_id(trading_bot, ALICE))


async def test_trading_needs_two_factor_first(trading_bot: BotDesk) -> None:
    chat = trading_bot.chat(ALICE)
    await onboard(chat)
    assert "/2fa" in (await chat.send("/buy AAPL 1"))[0]["text"]


async def test_guided_buy_and_refusals_in_words(trading_bot: BotDesk) -> None:
    chat, secret = await investor(trading_bot, ALICE, cash="500.00")
    await chat.send(f"/unlock {code(trading_bot, secret)}")
    which = (await chat.send("/buy"))[0]
    how_many = (await chat.press(which, "AAPL"))[0]
    assert "How many AAPL" in how_many["text"]
    preview = (await chat.press(how_many, "1"))[0]
    assert "Buy 1 AAPL" in preview["text"]
    assert "Not enough buying power" in (await chat.send("/buy AAPL 25"))[0]["text"]
    assert "not a number of shares" in (await chat.send("/buy AAPL ten"))[0]["text"]
    assert "knows no US stock" in (await chat.send("/buy NOSUCH 1"))[0]["text"]
    assert "Write it as" in (await chat.send("/sell AAPL 1 limit abc"))[0]["text"]
    quote = (await chat.send("/quote AAPL"))[0]["text"]
    assert "Bid" in quote and "Ask" in quote
    assert "connected" in (await chat.send("/status"))[0]["text"].lower()

    # An order that waited for the unlock and is refused once it comes ends there: the next unlock is only that.
    await chat.send("/lock")
    assert "Trading is locked" in (await chat.send("/buy AAPL 25"))[0]["text"]
    trading_bot.clock.advance(timedelta(seconds=30))
    refused = await chat.send(code(trading_bot, secret), replies=2)
    assert "unlocked" in refused[0]["text"] and "Not enough buying power" in refused[1]["text"]
    await chat.send("/lock")
    trading_bot.clock.advance(timedelta(seconds=30))
    assert [m["text"][:19] for m in await chat.send(code(trading_bot, secret))] == ["Trading is unlocked"]


async def _edited_to(chat: Chat, message_id: int, text: str) -> bool:
    return any(m["message_id"] == message_id and text in m["text"] for m in await chat.messages())


async def _user_id(bot: BotDesk, telegram_id: int) -> object:
    user = await bot.services.db.transact(lambda uow: user_service.find_by_telegram_id(uow, telegram_id))
    assert user is not None
    return user.id
