"""Copy trading from the chat, end to end (python-telegram-bot against the emulator, ib_async against the
simulator, the copy desk running): a leader opts in and is approved, a follower finds them on the leaderboard,
copies them through the guided flow confirmed with a fresh code, another follows for alerts; the leader's buy
is mirrored and pushed, the copy stopped by button with its position sold; another's copy cannot be touched."""

from __future__ import annotations

from typing import Any

from copytrade import leaders
from core import user_service
from tests.botchat import BotDesk, Chat
from tests.integration.test_bot_trading import code, investor
from tests.integration.trading_desk import Desk
from tests.support import eventually

ADA, BOB, CAROL = 7001, 7002, 7003


async def test_lead_find_copy_mirror_and_stop_from_the_chat(trading_bot: BotDesk, desk: Desk) -> None:
    ada, ada_secret = await investor(trading_bot, ADA, "10000.00")
    opted = await ada.send("/lead Ada 10 Long-only US large caps")
    assert "waits for approval" in opted[0]["text"]
    ada_id = await _user_id(trading_bot, ADA)
    await trading_bot.services.db.transact(lambda uow: leaders.review_leader(uow, ada_id, approve=True))
    await eventually(lambda: ada.saw("is live"), what="the leader told of the approval")

    bob, bob_secret = await investor(trading_bot, BOB, "10000.00")
    board = (await bob.send("/leaders"))[0]
    assert "1. Ada" in board["text"]
    card = (await bob.press(board, "Ada"))[0]
    assert card["photo"] is not None and "Profit share: 10% of new profits" in card["text"]
    flow = (await bob.press(card, "Copy trades"))[0]
    assert "how much to put in" in flow["text"]
    for label in ("$5,000", "In proportion", "No maximum", "20%", "No", "New trades only"):
        await bob.press(flow, label, replies=0)
        flow = await _edited(bob, flow)
    assert "Copy Ada's trades with $5,000.00" in flow["text"] and "Stop-loss" in flow["text"]
    await bob.press(flow, "Confirm", replies=0)
    assert "send the 6-digit code" in (await _edited(bob, flow))["text"]
    done = await bob.send(code(trading_bot, bob_secret))
    assert "You now copy Ada" in done[0]["text"]

    carol, carol_secret = await investor(trading_bot, CAROL, "100.00")
    preview = (await carol.send("/follow @ada alerts"))[0]
    assert "Nothing is traded" in preview["text"]
    await carol.press(preview, "Confirm", replies=0)
    await _edited(carol, preview)  # the press is handled: the next code confirms the follow
    assert "You now follow" in (await carol.send(code(trading_bot, carol_secret)))[0]["text"]

    await ada.send("/buy AAPL 10")  # trading is locked: the code unlocks it and shows the preview
    unlocked = await ada.send(code(trading_bot, ada_secret), replies=2)
    await ada.press(unlocked[1], "Confirm")
    await eventually(lambda: ada.saw("Bought 10 AAPL"), what="the leader's fill")
    # Bob put in half of what Ada has: 5 of her 10 shares, in a block of its own.
    await eventually(lambda: bob.saw("Copy trade: Bought 5 AAPL"), within=10, what="the copied fill pushed")
    await eventually(lambda: carol.saw("Ada bought 10 AAPL"), what="the trade alert")

    await bob.replies(0)  # what was pushed so far is read
    listed = (await bob.send("/following"))[0]
    assert "Ada: copy, active. Put in $5,000.00" in listed["text"] and "5 AAPL" in listed["text"]
    card = (await bob.send("/card ada"))[0]  # the copy's P&L card: a picture, with the P&L in its caption
    assert card["photo"] and card["text"].startswith("Your copy of Ada: ")
    copy_id = next(data for label, data in listed["buttons"] if label == "Stop 1").removeprefix("cs:")
    forged = await carol.press_data(preview["message_id"], f"cp:{copy_id}", forge=True)  # another's copy
    await carol.answer_to(forged)
    await eventually(lambda: carol.saw("could not find that copy"), what="the refusal")  # nothing paused
    asked = (await bob.press(listed, "Stop 1"))[0]
    await bob.press(asked, "Stop, sell them", replies=0)
    await eventually(lambda: bob.saw("Sold 5 AAPL"), within=10, what="the copy's position sold")
    await eventually(lambda: bob.saw("has stopped"), within=10, what="the copy stopped")
    await desk.assert_matches_simulator()


async def _edited(chat: Chat, shown: dict[str, Any]) -> dict[str, Any]:
    """The bot's message once the bot has edited it (its text changed from what was shown)."""

    async def now() -> dict[str, Any]:
        return next(m for m in await chat.messages() if m["message_id"] == shown["message_id"])

    await eventually(lambda: _differs(now, shown["text"]), what="the message edited")
    return await now()


async def _differs(now: Any, text: str) -> bool:
    return bool((await now())["text"] != text)


async def _user_id(bot: BotDesk, telegram_id: int) -> Any:
    user = await bot.services.db.transact(lambda uow: user_service.find_by_telegram_id(uow, telegram_id))
    assert user is not None
    return user.id
