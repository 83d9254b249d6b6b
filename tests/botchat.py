"""The bot end to end: the Bot API emulator over HTTP, the real python-telegram-bot application polling it, and
chats that play users through the emulator's test API."""

from __future__ import annotations

import asyncio
import functools
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
import pytest

from alerts.desk import AlertDesk
from alerts.watcher import PriceWatcher
from bot.app import build_application, polling
from bot.context import OmnibotApplication
from bot.emulator.server import Emulator
from bot.notifier import Notifier
from bot.services import Broker, Services
from broker import margin_service
from broker.link import BrokerLink, LocalBroker
from broker.market_data import MarketData
from broker.omnibus import OmnibusAccount
from broker.orders import Trading
from broker.reconciler import Reconciler
from copytrade.desk import CopyDesk
from core.clock import ManualClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database
from core.wakeups import Wakeups
from payments.desk import PaymentDesk
from payments.providers.sandbox import SandboxProvider
from tests.integration.trading_desk import Desk

TOKEN = "123456:BOT-TESTS"
QUIET = 0.15  # seconds without a new message from the bot before a reply counts as complete


@dataclass
class Chat:
    """One user's private chat with the bot."""

    user_id: int
    http: httpx.AsyncClient
    last_seen: int = 0

    async def send(self, text: str, *, replies: int = 1) -> list[dict[str, Any]]:
        """Write to the bot; the bot's messages that follow (at least `replies` of them)."""
        (await self.http.post("/test/send", json={"user_id": self.user_id, "text": text})).raise_for_status()
        return await self.replies(replies)

    async def press(self, message: dict[str, Any], label: str, *, replies: int = 1) -> list[dict[str, Any]]:
        """Tap the button with this label on one of the bot's messages."""
        data = next(data for text, data in message["buttons"] if text == label)
        await self.press_data(message["message_id"], data)
        return await self.replies(replies)

    async def press_data(self, message_id: int, data: str, *, forge: bool = False) -> str:
        body = {"user_id": self.user_id, "message_id": message_id, "data": data, "forge": forge}
        response = await self.http.post("/test/press", json=body)
        response.raise_for_status()
        return str(response.json()["query_id"])

    async def answer_to(self, query_id: str, within: float = 5.0) -> dict[str, Any]:
        """The bot's answer to a button press (an alert, a toast), once it came."""
        async with asyncio.timeout(within):
            while True:
                answer: dict[str, Any] = (await self.http.get(f"/test/answer/{query_id}")).json()
                if answer.get("answered"):
                    return answer
                await asyncio.sleep(0.02)

    async def messages(self) -> list[dict[str, Any]]:
        chat = (await self.http.get(f"/test/chat/{self.user_id}")).json()
        return list(chat["messages"])

    async def replies(self, at_least: int, within: float = 10.0) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        async with asyncio.timeout(within):
            while True:
                chat = (await self.http.get(f"/test/chat/{self.user_id}", params={"after": self.last_seen})).json()
                found = [m for m in chat["messages"] if m["from_bot"]]
                if len(found) >= at_least:
                    await asyncio.sleep(QUIET)
                    chat = (await self.http.get(f"/test/chat/{self.user_id}", params={"after": self.last_seen})).json()
                    if len([m for m in chat["messages"] if m["from_bot"]]) == len(found):
                        break
                await asyncio.sleep(0.02)
        self.last_seen = max([self.last_seen, *(m["message_id"] for m in chat["messages"])])
        return found

    async def saw(self, text: str) -> bool:
        """Whether any message of the bot in this chat (as it reads now, edits applied) contains the text."""
        return any(m["from_bot"] and text in m["text"] for m in await self.messages())


@dataclass
class BotDesk:
    emulator: Emulator
    application: OmnibotApplication
    http: httpx.AsyncClient
    services: Services
    clock: ManualClock

    def chat(self, user_id: int) -> Chat:
        return Chat(user_id, self.http)


@pytest.fixture
async def bot_desk(db: Database, clock: ManualClock, cipher: FieldCipher) -> AsyncIterator[BotDesk]:
    settings = Settings(kyc_auto_approve=True, bot_commands_per_minute=60)
    payments = PaymentDesk(db, settings, cipher, SandboxProvider(settings))
    async with running_bot(Services(settings, db, clock, cipher, payment_desk=payments)) as desk:
        yield desk


@pytest.fixture
async def trading_bot(desk: Desk) -> AsyncIterator[BotDesk]:
    """The bot with the broker: the trading desk's simulator, connection and router, routing at once."""
    settings = desk.settings.model_copy(
        update={
            "kyc_auto_approve": True,
            "bot_commands_per_minute": 60,
            "trading_block_window_ms": 0,
            "payments_poll_seconds": 0.1,
        }
    )
    market = MarketData(desk.connection, desk.clock)
    link = BrokerLink(desk.db, Wakeups(None))  # this process leads: every call goes to its own parts
    reconciler = Reconciler(desk.db, desk.connection, OmnibusAccount(desk.connection), settings)
    link.local = LocalBroker(desk.db, desk.connection, market, desk.router, reconciler)
    trading = Trading(desk.db, link, settings, wake_router=desk.router.wake, send_block=desk.router.send)
    copies = CopyDesk(desk.db, settings, link, wake_router=desk.router.wake)
    desk.router.follow_fills(copies)
    watcher = PriceWatcher(desk.db, market, trading.place_order, settings)
    broker = Broker(trading, link, copies, AlertDesk(desk.db, link, watcher, settings))
    cap = functools.partial(margin_service.withdrawal_cap, desk.db, settings, link)
    payments = PaymentDesk(desk.db, settings, desk.cipher, SandboxProvider(settings), cap)
    desk.router.start()
    copies.start()
    payments.start()
    await watcher.start()
    try:
        async with running_bot(Services(settings, desk.db, desk.clock, desk.cipher, broker, payments)) as bot:
            yield bot
    finally:
        await watcher.stop()
        await payments.stop()
        await copies.stop()
        await desk.router.stop()


@asynccontextmanager
async def running_bot(services: Services) -> AsyncIterator[BotDesk]:
    emulator = Emulator(TOKEN, chat_burst=120)  # tests type faster than people: Telegram's burst, widened
    await emulator.start("127.0.0.1", 0)
    application = build_application(services, TOKEN, emulator.base_url)
    notifier = Notifier(services, application.bot, idle_seconds=0.05)
    try:
        async with polling(application, poll_timeout=1), httpx.AsyncClient(base_url=emulator.url) as http:
            notifier.start()
            try:
                yield BotDesk(emulator, application, http, services, services.clock)  # type: ignore[arg-type]
            finally:
                await notifier.stop()
    finally:
        await emulator.stop()


async def onboard(chat: Chat) -> None:
    """Through onboarding to an open account (the demo's automatic approval)."""
    terms = await chat.send("/start")
    await chat.press(terms[0], "I accept")
    await chat.send("Alice Smith")
    await chat.send("alice@example.com")
    experience = await chat.send("us")
    horizon = await chat.press(experience[-1], "Some")
    loss = await chat.press(horizon[-1], "1 to 5 years")
    done = await chat.press(loss[-1], "Up to 20 %")
    assert "account is open" in done[-1]["text"]


async def enrol(desk: BotDesk, chat: Chat) -> str:
    """Two-factor by the QR code's key; the secret, for the test to make codes with."""
    shown = await chat.send("/2fa")
    assert shown[0]["photo"] is not None  # the QR code
    secret = re.search(r"key ([A-Z2-7]{32})", shown[0]["text"])
    assert secret is not None
    confirmed = await chat.send(pyotp.TOTP(secret[1]).at(desk.clock.now()))
    assert "Two-factor is on" in confirmed[0]["text"]
    return secret[1]
