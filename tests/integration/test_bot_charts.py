"""Pictures through the chat: /chart (the equity curve, daily P&L and allocation) and /card (a closed position's
P&L card), as photos of the sizes a phone shows well; /card on a position still open says so."""

from __future__ import annotations

import struct
from decimal import Decimal

from broker.order_requests import OrderRequest
from broker.order_states import OrderSide
from core import user_service
from ledger import operations
from tests.botchat import BotDesk, Chat, enrol, onboard
from tests.integration.trading_desk import Desk
from tests.support import eventually

FAY = 8801


async def picture_size(bot: BotDesk, message: dict[str, object]) -> tuple[int, int]:
    png = (await bot.http.get(str(message["photo"]))).content
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


async def trade(bot: BotDesk, chat: Chat, owner: object, side: OrderSide, key: str) -> None:
    request = OrderRequest(owner, key, "AAPL", side, 10)  # type: ignore[arg-type]
    await bot.services.broker.trading.place_order(request)
    verb = "Bought" if side is OrderSide.BUY else "Sold"
    await eventually(lambda: chat.saw(f"{verb} 10 AAPL"), what=f"{verb.lower()} 10")
    await chat.replies(0)


async def test_the_chart_and_a_closed_positions_card(trading_bot: BotDesk, desk: Desk) -> None:
    bot = trading_bot
    chat = bot.chat(FAY)
    await onboard(chat)
    await enrol(bot, chat)
    user = await bot.services.db.transact(lambda uow: user_service.find_by_telegram_id(uow, FAY))
    assert user is not None
    await bot.services.db.transact(lambda uow: operations.deposit(uow, user.id, Decimal(10_000), key="dep-fay"))
    desk.sim.set_price("AAPL", Decimal(200))
    await trade(bot, chat, user.id, OrderSide.BUY, "fay-1")
    assert "You hold 10 AAPL now" in (await chat.send("/card AAPL"))[0]["text"]

    shown = (await chat.send("/chart"))[0]
    assert shown["text"].startswith("Equity $") and await picture_size(bot, shown) == (800, 1200)
    again = (await chat.send("/chart"))[0]  # nothing moved: the same picture, from the cache
    assert (await bot.http.get(again["photo"])).content == (await bot.http.get(shown["photo"])).content

    desk.sim.set_price("AAPL", Decimal(220))
    await trade(bot, chat, user.id, OrderSide.SELL, "fay-2")
    card = (await chat.send("/card aapl"))[0]
    assert card["text"].startswith("AAPL: $19") and await picture_size(bot, card) == (800, 450)  # about 200 gained
    assert "no leader you copy and no share" in (await chat.send("/card NOSUCH"))[0]["text"]
