"""Money in and out through the chat, end to end (python-telegram-bot against the emulator, the sandbox bank, the
IB simulator, a simulated clock): add a bank account with a fresh code, deposit, trade, sell, wait for the
deposit hold and settlement, withdraw to the account with a fresh code, an admin approves, and it is paid."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pyotp

from core import user_service
from payments import withdrawals
from tests.botchat import BotDesk, enrol, onboard
from tests.integration.trading_desk import Desk
from tests.support import eventually

DANA = 8001


async def test_bank_deposit_trade_settle_withdraw_approve_and_pay(trading_bot: BotDesk, desk: Desk) -> None:
    bot, clock = trading_bot, trading_bot.clock
    chat = bot.chat(DANA)
    await onboard(chat)
    secret = await enrol(bot, chat)

    def code() -> str:
        clock.advance(timedelta(seconds=30))  # each code once: the next one is a new step
        return pyotp.TOTP(secret).at(clock.now())

    asked = await chat.send("/bank add DE89 3704 0044 0532 0130 00 COBADEFFXXX")
    assert "Add IBAN ...3000 in the name of Alice Smith" in asked[0]["text"]
    added = await chat.send(code())
    assert "Added IBAN ...3000" in added[0]["text"]
    await eventually(lambda: chat.saw("A bank account was added"), what="the security notice")
    await chat.replies(0)  # the notice is read: the next reply is the next command's

    instructions = (await chat.send("/deposit 5000"))[0]["text"]
    assert "Reference  OM" in instructions and "DE89370400440532013000" in instructions
    clock.advance(timedelta(seconds=6))  # the sandbox bank pays as instructed
    await eventually(lambda: chat.saw("Deposit received: $5,000.00"), what="the deposit credited")

    await chat.replies(0)
    await chat.send("/buy AAPL 10")
    unlocked = await chat.send(code(), replies=2)
    await chat.press(unlocked[1], "Confirm")
    await eventually(lambda: chat.saw("Bought 10 AAPL"), what="the buy")
    await chat.replies(0)
    sale = await chat.send("/sell AAPL all")
    await chat.press(sale[0], "Confirm")
    await eventually(lambda: chat.saw("Sold 10 AAPL"), what="the sale")
    await chat.replies(0)
    early = (await chat.send("/withdraw 2000"))[0]["text"]
    assert "you can withdraw up to $0.00 now" in early  # the deposit is on hold, the sale not settled

    # Past the deposit hold and the sale's settlement (T+1 from the execution, which the simulator stamps with
    # the real time).
    clock.set(max(clock.now(), datetime.now(UTC)) + timedelta(days=8))
    # A withdrawal left waiting for its code, then an order that asks for one: the code is the order's (it
    # unlocks trading), and no later code carries out the withdrawal the user moved on from. A /stop asking for
    # the code to unlock does the same.
    for amount in ("100", "110"):
        dropped = (await chat.send(f"/withdraw {amount}"))[0]
        await chat.press(dropped, "IBAN ...3000", replies=0)
        await eventually(lambda a=amount: chat.saw(f"Withdraw ${a}.00: to confirm"), what="the account picked")
        if amount == "100":
            stop = (await chat.send("/stop AAPL 150"))[0]["text"]
            assert stop.startswith("(This replaces the withdrawal that waited for a code.)\nTrading is locked")
    locked = (await chat.send("/buy AAPL 1"))[0]["text"]
    assert locked.startswith("(This replaces the withdrawal that waited for a code.)") and "Trading is locked" in locked
    unlocked = await chat.send(code(), replies=2)
    assert "unlocked" in unlocked[0]["text"] and "Confirm" in str(unlocked[1]["buttons"])
    await chat.press(unlocked[1], "Cancel")
    assert "Withdraw" not in " ".join(m["text"] for m in await chat.send(code()))
    picking = (await chat.send("/withdraw 2000"))[0]
    assert "to which account" in picking["text"] and "up to $4,99" in picking["text"]  # a round trip's cost less
    await chat.press(picking, "IBAN ...3000", replies=0)
    await eventually(lambda: chat.saw("to confirm, send the 6-digit code"), what="the account picked")
    done = await chat.send(code())
    assert "waiting for a review" in done[-1]["text"]  # over the auto-approval threshold

    owner = await _user_id(bot)
    [withdrawal] = await _withdrawals(bot, owner)
    await bot.services.payments.review(withdrawal.id, approve=True, admin="admin", reason="checked")
    await eventually(lambda: chat.saw("was sent to your bank"), what="the payout sent")
    clock.advance(timedelta(seconds=31))  # the sandbox bank settles
    await eventually(lambda: chat.saw("was paid"), what="the payout settled")
    listed = (await chat.send("/withdrawals"))[-1]["text"]
    assert "$2,000.00: paid" in listed
    await desk.assert_matches_simulator()


async def _user_id(bot: BotDesk) -> Any:
    user = await bot.services.db.transact(lambda uow: user_service.find_by_telegram_id(uow, DANA))
    assert user is not None
    return user.id


async def _withdrawals(bot: BotDesk, owner: Any) -> list[Any]:
    return await bot.services.db.transact(lambda uow: withdrawals.of_owner(uow, owner), readonly=True)
