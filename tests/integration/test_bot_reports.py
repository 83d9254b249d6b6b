"""Reports through the chat: the monthly statement as a PDF and the transactions as a CSV file, each checked
against the ledger; the daily summary, asked for silent, arrives after the close, once."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta
from decimal import Decimal

import pypdf

from broker.order_requests import OrderRequest
from broker.order_states import OrderSide
from broker.order_store import order_by_key
from core import user_service
from core.calendar import NEW_YORK, add_business_days
from ledger import operations
from ledger.accounts import AccountKind, Asset
from ledger.portfolio import record_equity
from ledger.service import open_account
from reports.daily import DailySummaries
from reports.statement import monthly_statement
from tests.botchat import BotDesk, Chat, enrol, onboard
from tests.integration.trading_desk import Desk
from tests.support import eventually

GUS = 8901


async def test_statement_export_and_daily_summary(trading_bot: BotDesk, desk: Desk) -> None:
    bot, clock = trading_bot, trading_bot.clock
    # A trading day in New York, before the close.
    day = add_business_days(clock.now().astimezone(NEW_YORK).date(), 1)
    clock.set(datetime.combine(day, time(10, 0), NEW_YORK))
    chat = bot.chat(GUS)
    await onboard(chat)
    await enrol(bot, chat)
    user = await bot.services.db.transact(lambda uow: user_service.find_by_telegram_id(uow, GUS))
    assert user is not None
    await bot.services.db.transact(lambda uow: operations.deposit(uow, user.id, Decimal(10_000), key="dep-gus"))
    desk.sim.set_price("AAPL", Decimal(200))
    for side, key in ((OrderSide.BUY, "gus-1"), (OrderSide.SELL, "gus-2"), (OrderSide.BUY, "gus-3")):
        await bot.services.broker.trading.place_order(OrderRequest(user.id, key, "AAPL", side, 10))
        await eventually(lambda k=key: _filled(bot, user.id, k), what=f"order {key} filled")
    await eventually(lambda: _told(chat, "Your order is complete.", 3), what="the three fills told")
    cash = await bot.services.db.transact(
        lambda uow: open_account(uow, AccountKind.INVESTOR_CASH, Asset.cash(), user.id)
    )
    await chat.replies(0)

    sent = (await chat.send(f"/statement {day:%Y-%m}"))[0]
    assert sent["file_name"] == f"omnibot-statement-{day:%Y-%m}.pdf"
    pdf = pypdf.PdfReader(io.BytesIO((await bot.http.get(sent["document"])).content))
    text = "".join(page.extract_text() for page in pdf.pages).replace(" ", "")
    assert "Accountholder:AliceSmith" in text
    assert f"Cashattheendofthemonth${cash.balance:,.2f}" in text  # the ledger's cash now
    assert "deposit+$10,000.00" in text and text.count("AAPL+10shares") == 2 and "AAPL-10shares" in text

    month = await bot.services.db.transact(lambda uow: monthly_statement(uow, user.id, day), readonly=True)
    assert month.opening_cash + sum(amount for _kind, amount in month.by_kind) == month.closing_cash == cash.balance
    assert [m.cash_after for m in month.movements][-1] == cash.balance

    exported = (await chat.send("/export all"))[0]
    rows = list(csv.DictReader(io.StringIO((await bot.http.get(exported["document"])).text)))
    own_cash = [row for row in rows if row["book"] == "own" and row["asset"] == "USD"]
    assert sum(Decimal(row["change"]) for row in own_cash) == cash.balance
    assert Decimal(own_cash[-1]["balance_after"]) == cash.balance
    assert sum(Decimal(r["change"]) for r in rows if r["asset"] == "AAPL") == 10
    assert "name a year, a month or all" in (await chat.send("/export someday"))[0]["text"]

    assert "summary (" in (await chat.send("/notifications summary silent"))[0]["text"]
    # Nothing yesterday; today's 10,000 deposit is no gain: the day lost 10.
    await bot.services.db.transact(lambda uow: record_equity(uow, user.id, day - timedelta(days=1), Decimal(0)))
    await bot.services.db.transact(lambda uow: record_equity(uow, user.id, day, Decimal(9_990)))
    summaries = DailySummaries(bot.services.db)
    assert await summaries.run() == 0  # before the close
    clock.set(datetime.combine(day, time(16, 45), NEW_YORK))
    assert await summaries.run() == 1
    assert await summaries.run() == 0  # once a day
    await eventually(lambda: chat.saw("Your day,"), what="the summary")
    [summary] = [m for m in await chat.messages() if "Your day," in (m["text"] or "")]
    assert summary["silent"] and "Value $9,990.00, today -$10.00\n" in summary["text"]
    assert summary["text"].count("Bought 10 AAPL for $2,00") == 2 and "Sold 10 AAPL for $1,99" in summary["text"]


async def _filled(bot: BotDesk, owner: object, key: str) -> bool:
    found = await bot.services.db.transact(lambda uow: order_by_key(uow, owner, key), readonly=True)
    return found is not None and found.filled_quantity == 10


async def _told(chat: Chat, text: str, times: int) -> bool:
    return sum(text in (m["text"] or "") for m in await chat.messages()) == times
