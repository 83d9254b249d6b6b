"""The Bot API emulator, spoken to by the real python-telegram-bot over HTTP: what it accepts, what it refuses as
Telegram does, and the test API that plays the users."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup
from telegram.constants import ParseMode
from telegram.error import BadRequest, Conflict, Forbidden, RetryAfter

from bot.emulator.server import Emulator
from bot.emulator.webhook import SECRET_HEADER
from tests.support import eventually

TOKEN = "123456:TEST"
ALICE = 1001


@pytest.fixture
async def emulator() -> AsyncIterator[Emulator]:
    server = Emulator(TOKEN)
    await server.start("127.0.0.1", 0)
    yield server
    await server.stop()


@pytest.fixture
async def bot(emulator: Emulator) -> AsyncIterator[Bot]:
    async with Bot(TOKEN, base_url=emulator.base_url) as client:
        yield client


@pytest.fixture
async def user(emulator: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=emulator.url) as client:
        yield client


async def test_a_user_message_reaches_the_bot_by_long_polling_and_the_reply_reaches_the_user(
    bot: Bot, user: httpx.AsyncClient
) -> None:
    me = await bot.get_me()
    assert me.is_bot and me.username
    polling = asyncio.create_task(bot.get_updates(timeout=5))
    await asyncio.sleep(0.1)
    (await user.post("/test/send", json={"user_id": ALICE, "text": "/start now"})).raise_for_status()
    updates = await polling
    assert [u.message.text for u in updates if u.message] == ["/start now"]
    assert updates[0].message.entities[0].type == "bot_command"
    assert updates[0].effective_user is not None and updates[0].effective_user.id == ALICE

    keyboard = InlineKeyboardMarkup([[InlineKeyboardButton("Confirm", callback_data="c:1")]])
    sent = await bot.send_message(
        ALICE, "<b>Buy</b> 10 AAPL &amp; more", parse_mode=ParseMode.HTML, reply_markup=keyboard
    )
    chat = (await user.get(f"/test/chat/{ALICE}")).json()["messages"]
    assert chat[-1]["text"] == "Buy 10 AAPL & more" and chat[-1]["buttons"] == [["Confirm", "c:1"]]

    press = await user.post("/test/press", json={"user_id": ALICE, "message_id": sent.message_id, "data": "c:1"})
    query_id = press.json()["query_id"]
    updates = await bot.get_updates(offset=updates[-1].update_id + 1, timeout=1)
    query = updates[0].callback_query
    assert query is not None and query.data == "c:1" and query.message.message_id == sent.message_id
    await query.answer("Done")
    assert (await user.get(f"/test/answer/{query_id}")).json()["text"] == "Done"
    with pytest.raises(BadRequest):
        await query.answer("again")  # a press is answered once


async def test_what_telegram_refuses_is_refused(bot: Bot, user: httpx.AsyncClient) -> None:
    await user.post("/test/send", json={"user_id": ALICE, "text": "hi"})
    with pytest.raises(BadRequest, match=r"(?i)parse entities"):
        await bot.send_message(ALICE, "<b>unclosed", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)parse entities"):
        await bot.send_message(ALICE, "1 < 2", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)unsupported start tag"):
        await bot.send_message(ALICE, "<div>x</div>", parse_mode=ParseMode.HTML)
    with pytest.raises(BadRequest, match=r"(?i)too long"):
        await bot.send_message(ALICE, "x" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        too_long = InlineKeyboardMarkup([[InlineKeyboardButton("x", callback_data="d" * 65)]])
        await bot.send_message(ALICE, "ok", reply_markup=too_long)
    with pytest.raises(BadRequest, match="Chat not found"):
        await bot.send_message(424242, "who?")
    sent = await bot.send_message(ALICE, "same")
    with pytest.raises(BadRequest, match=r"(?i)not modified"):
        await bot.edit_message_text("same", ALICE, sent.message_id)
    await bot.edit_message_text("changed", ALICE, sent.message_id)
    press = {"user_id": ALICE, "message_id": sent.message_id, "data": "x"}
    assert (await user.post("/test/press", json=press)).status_code == 400  # no such button on the message
    forged = await user.post("/test/press", json=press | {"forge": True})
    assert forged.status_code == 200  # a tampered client can still send it: the bot must refuse it itself
    await user.post("/test/block", json={"user_id": ALICE})
    with pytest.raises(Forbidden):
        await bot.send_message(ALICE, "still there?")


async def test_a_flood_to_one_chat_gets_429_with_retry_after(bot: Bot, user: httpx.AsyncClient) -> None:
    await user.post("/test/send", json={"user_id": ALICE, "text": "hi"})
    with pytest.raises(RetryAfter) as flood:
        for n in range(20):
            await bot.send_message(ALICE, f"message {n}")
    assert int(flood.value.retry_after) >= 1  # type: ignore[arg-type]
    stats = (await user.get("/test/stats")).json()
    assert stats["refused_for_flood"] == 1


async def test_a_photo_is_uploaded_as_multipart_and_shown(bot: Bot, user: httpx.AsyncClient) -> None:
    await user.post("/test/send", json={"user_id": ALICE, "text": "/chart"})
    png = b"\x89PNG\r\n\x1a\n" + b"0" * 100
    sent = await bot.send_photo(ALICE, io.BytesIO(png), caption="<i>Equity</i>", parse_mode=ParseMode.HTML)
    assert sent.photo and sent.caption == "Equity"
    shown = (await user.get(f"/test/chat/{ALICE}")).json()["messages"][-1]
    assert (await user.get(shown["photo"])).content == png


async def test_with_a_webhook_set_updates_are_posted_with_the_secret_and_retried_until_taken(
    bot: Bot, user: httpx.AsyncClient
) -> None:
    received: list[tuple[str, dict[str, object]]] = []
    answers = iter([500, 200])  # the bot's first answer fails: Telegram delivers the update again

    async def hook(request: web.Request) -> web.Response:
        received.append((request.headers.get(SECRET_HEADER, ""), await request.json()))
        return web.Response(status=next(answers, 200))

    app = web.Application()
    app.add_routes([web.post("/hook", hook)])
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        assert await bot.set_webhook(f"http://127.0.0.1:{port}/hook", secret_token="the-secret-token-1")
        assert (await bot.get_webhook_info()).url == f"http://127.0.0.1:{port}/hook"
        with pytest.raises(Conflict):
            await bot.get_updates()
        (await user.post("/test/send", json={"user_id": ALICE, "text": "hello"})).raise_for_status()
        await eventually(lambda: len(received) >= 2, what="the update delivered again")
        await asyncio.sleep(0.3)
        assert [secret for secret, _update in received] == ["the-secret-token-1"] * 2
        assert received[0][1] == received[1][1] and received[0][1]["message"]["text"] == "hello"  # type: ignore[index]
        assert len(received) == 2  # taken the second time: not sent again
        assert await bot.delete_webhook()
        assert await bot.get_updates() == ()  # polling again, with nothing waiting
    finally:
        await runner.cleanup()
