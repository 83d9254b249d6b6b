"""The admin chat, end to end: only an admin may open it; approving a withdrawal and halting trading each take
a fresh code and go into the audit trail under the admin's name; the report and the breaks are shown."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pyotp
from sqlalchemy import select

from bot.fresh_code import ADMIN_ACTION
from bot.render import usd
from broker import halts
from broker.order_requests import OrderRequest
from broker.order_states import OrderSide, OrderStatus
from core import audit, pending_actions, user_service
from core.limits import limits_of
from core.users import Role
from ledger import operations
from ledger.accounts import AccountKind, Asset
from ledger.service import open_account
from payments import withdrawals
from payments.bank_details import iban_details
from payments.providers.base import ProviderEvent
from payments.states import WithdrawalStatus
from tests.botchat import BotDesk, Chat, enrol, onboard
from tests.integration.trading_desk import Desk
from tests.support import eventually

ADMIN, INVESTOR = 8501, 8502


async def test_an_admin_approves_a_withdrawal_and_halts_trading_each_with_a_fresh_code(trading_bot: BotDesk) -> None:
    bot, clock = trading_bot, trading_bot.clock
    investor = bot.chat(INVESTOR)
    await onboard(investor)
    refused = await investor.send("/admin")
    assert "for admins" in refused[0]["text"]
    owner = await _user_id(bot, INVESTOR)
    await bot.services.db.transact(lambda uow: operations.deposit(uow, owner, Decimal(5000), key="dep-admin-test"))
    payments = bot.services.payments
    account = await payments.add_bank(owner, iban_details("DE89370400440532013000"), "Alice Smith")
    clock.advance(timedelta(hours=25))
    withdrawal = await payments.withdraw(owner, account.id, Decimal(2000), "big")
    assert withdrawal.status is WithdrawalStatus.PENDING_REVIEW

    chat, code, admin_id = await _admin(bot)

    menu = (await chat.send("/admin"))[0]
    assert [label for label, _data in menu["buttons"]][:2] == ["Withdrawals to review", "Reconciliation breaks"]
    queue = (await chat.press(menu, "Withdrawals to review"))[0]
    assert "$2,000.00" in queue["text"]
    asked = await chat.press(queue, "Approve 1")
    assert "send a fresh code" in asked[0]["text"]
    done = await chat.send(code())
    assert "Withdrawal of $2,000.00: approved" in done[0]["text"]
    second = await payments.withdraw(owner, account.id, Decimal(1500), "another")
    await chat.send(f"/money reject {second.id} the bank details need checking")
    assert "Withdrawal of $1,500.00: rejected" in (await chat.send(code()))[0]["text"]
    await eventually(lambda: investor.saw("refused (the bank details need checking)"), what="the reason told")

    halt = (await chat.press(menu, "Trading halt"))[0]
    assert "Trading is open" in halt["text"]
    await chat.press(halt, "Halt all trading")
    assert "Halted all trading" in (await chat.send(code()))[0]["text"]
    assert "Trading is halted" in (await chat.press(menu, "Trading halt"))[0]["text"]
    await eventually(lambda: investor.saw("was paid"), what="the payout paid and the investor told")
    report = (await chat.press(menu, "Platform report"))[0]["text"]
    # The approved $2,000 went out meanwhile (the sandbox bank pays after 30 s of the simulated clock).
    assert "Investors' cash: $3,000.00" in report and "Cash at the bank: $3,000.00" in report
    assert "No reconciliation break" in (await chat.press(menu, "Reconciliation breaks"))[0]["text"]
    assert "Connection: ready" in (await chat.press(menu, "Broker"))[0]["text"]
    assert "events, whole" in (await chat.press(menu, "Audit trail"))[0]["text"]
    await chat.send("/halt AAPL")
    assert "Halted trading in #265598" in (await chat.send(code()))[0]["text"]
    stopped = await bot.services.db.transact(lambda uow: halts.halts_for(uow, 265598), readonly=True)
    assert {con_id for con_id, _reason in stopped} == {0, 265598}

    card = (await chat.send(f"/user {INVESTOR}"))[0]["text"]
    assert "Alice Smith" in card and "Status: active" in card and "To freeze" in card
    await chat.send(f"/user {INVESTOR} freeze unusual logins")
    assert "The account is now frozen" in (await chat.send(code()))[0]["text"]
    await eventually(lambda: investor.saw("Your account is frozen (unusual logins)"), what="the investor told")
    await investor.replies(0)
    assert "Your account is frozen" in (await investor.send("/portfolio"))[0]["text"]
    unfreeze = (await chat.send(f"/user {INVESTOR}"))[0]
    await chat.press(unfreeze, "Unfreeze")
    assert "The account is now active" in (await chat.send(code()))[0]["text"]

    await chat.send(f"/user {INVESTOR} limits orders=3 withdraw=500")
    assert "Limits set." in (await chat.send(code()))[0]["text"]
    limits = await bot.services.db.transact(lambda uow: limits_of(uow, bot.services.settings, owner), readonly=True)
    assert (limits.orders_per_minute, limits.withdrawal_daily_limit) == (3, Decimal(500))

    trail = await bot.services.db.transact(_trail, readonly=True)
    assert ("account.limits", f"admin:{admin_id}") in trail
    assert ("account.freeze", f"admin:{admin_id}") in trail and ("account.viewed", f"admin:{admin_id}") in trail
    assert ("withdrawal.approved", f"admin:{admin_id}") in trail and ("trading.halted", f"admin:{admin_id}") in trail
    assert (await bot.services.db.transact(audit.verify, readonly=True)).whole


async def _trail(uow: Any) -> list[tuple[str, str]]:
    rows = await uow.connection.execute(select(audit.LOG.c.action, audit.LOG.c.actor).order_by(audit.LOG.c.seq))
    return [(action, actor) for action, actor in rows]


async def _admin(bot: BotDesk) -> tuple[Chat, Callable[[], str], Any]:
    """The admin's chat, onboarded with two-factor; a source of fresh codes (each 30 s on); the admin's id."""
    chat = bot.chat(ADMIN)
    await onboard(chat)
    secret = await enrol(bot, chat)
    admin_id = await _user_id(bot, ADMIN)
    await bot.services.db.transact(lambda uow: user_service.set_role(uow, admin_id, Role.ADMIN))

    def code() -> str:
        bot.clock.advance(timedelta(seconds=30))
        return pyotp.TOTP(secret).at(bot.clock.now())

    return chat, code, admin_id


async def _user_id(bot: BotDesk, telegram_id: int) -> Any:
    user = await bot.services.db.transact(lambda uow: user_service.find_by_telegram_id(uow, telegram_id))
    assert user is not None
    return user.id


async def test_the_money_desk_records_a_deposit_matches_suspense_and_marks_a_payout(trading_bot: BotDesk) -> None:
    bot, clock = trading_bot, trading_bot.clock
    investor = bot.chat(INVESTOR)
    await onboard(investor)
    owner = await _user_id(bot, INVESTOR)
    chat, code, _admin_id = await _admin(bot)

    await chat.send(f"/money record {INVESTOR} 700 statement-42")
    assert "Recorded: $700.00 credited" in (await chat.send(code()))[0]["text"]
    stray = ProviderEvent("evt-stray", "transfer.received", tx_id="tx-stray", amount=Decimal(80), reference="?")
    await bot.services.payments.apply("sandbox", stray)
    await eventually(lambda: chat.saw("Money in suspense: $80.00"), what="the admins told")
    await chat.replies(0)  # the notice is read: the next reply is /money's
    overview = (await chat.send("/money"))[0]["text"]
    transfer = re.search(r"Suspense: \$80\.00 ref \? \(([0-9a-f-]{36})\)", overview)
    assert transfer is not None
    await chat.send(f"/money match {transfer[1]} {INVESTOR}")
    assert "Matched: $80.00 credited" in (await chat.send(code()))[0]["text"]
    assert (await bot.services.db.transact(lambda uow: _cash(uow, owner))) == Decimal(780)

    payments = bot.services.payments
    account = await payments.add_bank(owner, iban_details("DE89370400440532013000"), "Alice Smith")
    clock.advance(timedelta(days=8))  # past the bank account's cooldown and the deposits' hold
    withdrawal = await payments.withdraw(owner, account.id, Decimal(100), "small")
    await eventually(lambda: _status(bot, withdrawal.id, WithdrawalStatus.SUBMITTED), what="sent to the bank")
    clock.advance(timedelta(seconds=31))  # the sandbox bank pays it
    await eventually(lambda: _status(bot, withdrawal.id, WithdrawalStatus.SETTLED), what="paid by the bank")
    await chat.send(f"/money mark {withdrawal.id} returned account closed")  # as the bank statement shows
    assert "Withdrawal of $100.00: returned" in (await chat.send(code()))[0]["text"]
    assert (await bot.services.db.transact(lambda uow: _cash(uow, owner))) == Decimal(780)  # booked back


async def _cash(uow: Any, owner: Any) -> Decimal:
    return (await open_account(uow, AccountKind.INVESTOR_CASH, Asset.cash(), owner)).balance


async def _status(bot: BotDesk, withdrawal_id: Any, status: WithdrawalStatus) -> bool:
    record = await bot.services.db.transact(lambda uow: withdrawals.get(uow, withdrawal_id), readonly=True)
    return record.status is status


async def test_a_broadcast_reaches_the_investors_who_did_not_turn_it_off(trading_bot: BotDesk) -> None:
    bot = trading_bot
    listening, quiet = bot.chat(8601), bot.chat(8602)
    for chat in (listening, quiet):
        await onboard(chat)
    assert (
        "broadcast (news and announcements from the platform): off"
        in (await quiet.send("/notifications broadcast off"))[0]["text"]
    )
    chat, code, admin_id = await _admin(bot)
    await chat.send("/broadcast Markets close early on <Friday> & Monday")
    assert "Broadcast to 1 investor(s)" in (await chat.send(code()))[0]["text"]
    await eventually(lambda: listening.saw("Markets close early on <Friday> & Monday"), what="the broadcast")
    await quiet.replies(0)
    assert not await quiet.saw("Markets close early")
    trail = await bot.services.db.transact(_trail, readonly=True)
    assert ("news.broadcast", f"admin:{admin_id}") in trail


async def test_the_report_values_holdings_at_market_and_the_broker_screen_measures_the_link(
    trading_bot: BotDesk, desk: Desk
) -> None:
    owner = await desk.investor("10000.00")
    desk.sim.set_price("AAPL", Decimal(200))
    order = await desk.order(owner, "buy", 10)
    await desk.route()
    await desk.settled(order.id)
    desk.sim.set_price("AAPL", Decimal(250))
    await asyncio.sleep(1.1)  # past the shared snapshot's freshness: the report asks IB again
    cash = await trading_bot.services.db.transact(lambda uow: _cash(uow, owner), readonly=True)
    chat, _code, _admin_id = await _admin(trading_bot)
    menu = (await chat.send("/admin"))[0]

    report = (await chat.press(menu, "Platform report"))[0]["text"]
    assert f"Assets under management at market: {usd(cash + 2500)}" in report  # the cash, and 10 AAPL at 250
    assert "AAPL 10 = $2,500.00" in report  # the omnibus position at IB
    screen = (await chat.press(menu, "Broker"))[0]["text"]
    round_trip = re.search(r"Round trip to IB: ([0-9.]+) ms", screen)
    assert round_trip is not None and 0 < float(round_trip[1]) < 2000
    rates = re.search(r"Messages a second \(last minute\): ([0-9.]+) sent, ([0-9.]+) received; (\d+) sent", screen)
    assert rates is not None and int(rates[3]) > 0  # the connection has talked to IB: recovery, the order


async def test_an_admin_named_in_the_settings_is_one_from_their_first_start(bot_desk: BotDesk) -> None:
    bot = bot_desk
    bot.services.settings.admin_telegram_ids = frozenset({ADMIN})  # OMNIBOT_ADMIN_TELEGRAM_IDS, as the operator set it
    chat = bot.chat(ADMIN)
    await onboard(chat)
    await enrol(bot, chat)
    menu = (await chat.send("/admin"))[0]
    assert "Withdrawals to review" in [label for label, _data in menu["buttons"]]
    assert ("admin.granted", "settings") in await bot.services.db.transact(_trail, readonly=True)
    others = bot.chat(INVESTOR)
    await onboard(others)
    assert "for admins" in (await others.send("/admin"))[0]["text"]


async def test_an_admins_code_confirms_the_latest_request_once_and_a_refusal_ends_it(trading_bot: BotDesk) -> None:
    """One thing at a time waits for the admin's code: a newer request replaces the older, which no later code
    carries out. A refused action ends (a later code must not carry it out when it may no longer be wanted)."""
    bot, clock = trading_bot, trading_bot.clock
    investor = bot.chat(INVESTOR)
    await onboard(investor)
    owner = await _user_id(bot, INVESTOR)
    await bot.services.db.transact(lambda uow: operations.deposit(uow, owner, Decimal(5000), key="dep-spent-test"))
    payments = bot.services.payments
    account = await payments.add_bank(owner, iban_details("DE89370400440532013000"), "Alice Smith")
    clock.advance(timedelta(hours=25))
    chat, code, admin_id = await _admin(bot)

    def still_waiting() -> Any:
        return bot.services.db.transact(lambda uow: pending_actions.waiting(uow, admin_id, ADMIN_ACTION), readonly=True)

    async def to_review(amount: int, key: str) -> Any:
        record = await payments.withdraw(owner, account.id, Decimal(amount), key)
        await eventually(lambda: chat.saw(f"A withdrawal of {usd(Decimal(amount))} waits"), what="the admins told")
        await chat.replies(0)  # the notice read: the next reply is the next command's
        return record

    replaced, kept = await to_review(2000, "replaced"), await to_review(1500, "kept")
    assert "replaces" not in (await chat.send(f"/money approve {replaced.id}"))[0]["text"]
    asked = (await chat.send(f"/money approve {kept.id}"))[0]["text"]
    assert asked.startswith("(This replaces the admin action that waited for a code.)"), asked
    assert "Withdrawal of $1,500.00: approved" in (await chat.send(code()))[0]["text"]
    assert not await still_waiting()  # the replaced approval went with it
    assert "Trading is unlocked" in (await chat.send(code()))[0]["text"]  # a later code is only a code

    await chat.send(f"/money approve {replaced.id}")
    await payments.cancel(owner, replaced.id)  # the investor cancels meanwhile
    refused = (await chat.send(code()))[0]["text"]
    assert refused == "Withdrawal cannot go from cancelled to approved.", refused
    assert not await still_waiting()


async def test_cancel_all_asks_every_live_order_to_cancel(trading_bot: BotDesk, desk: Desk) -> None:
    bot = trading_bot
    owner = await desk.investor()
    below = (desk.sim.quote("AAPL").bid * Decimal("0.95")).quantize(Decimal("0.01"))  # resting, not marketable
    resting = [
        await bot.services.broker.trading.place_order(
            OrderRequest(owner, f"rest-{n}", "AAPL", OrderSide.BUY, 2 + n, below)
        )
        for n in range(2)
    ]
    for order in resting:
        await eventually(lambda o=order: desk.status_is(o.id, OrderStatus.SUBMITTED), what="IB acknowledged")
    chat, code, admin_id = await _admin(bot)
    menu = (await chat.send("/admin"))[0]
    broker = (await chat.press(menu, "Broker"))[0]
    assert "send a fresh code" in (await chat.press(broker, "Cancel all open orders"))[0]["text"]
    assert (await chat.send(code()))[0]["text"] == "Cancelling 2 open order(s)."
    await desk.settled(*(order.id for order in resting))
    assert {(await desk.get(order.id)).status for order in resting} == {OrderStatus.CANCELLED}
    assert ("orders.cancel_all", f"admin:{admin_id}") in await bot.services.db.transact(_trail, readonly=True)
    await desk.assert_matches_simulator()
