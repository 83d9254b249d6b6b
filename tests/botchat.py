"""The bot end to end: the Bot API emulator over HTTP, the real python-telegram-bot application polling it, and
chats that play users through the emulator's test API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from bot.app import build_application, polling
from bot.context import OmnibotApplication
from bot.emulator.server import Emulator
from bot.services import Services
from core.clock import ManualClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database

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
        self.last_seen = max(m["message_id"] for m in chat["messages"])
        return found


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
    emulator = Emulator(TOKEN, chat_burst=30)  # tests type faster than people: Telegram's burst, widened
    await emulator.start("127.0.0.1", 0)
    settings = Settings(kyc_auto_approve=True, bot_commands_per_minute=60)
    services = Services(settings, db, clock, cipher)
    application = build_application(services, TOKEN, emulator.base_url)
    async with polling(application, poll_timeout=1), httpx.AsyncClient(base_url=emulator.url) as http:
        yield BotDesk(emulator, application, http, services, clock)
    await emulator.stop()
