"""The investors' side of Telegram: what they type and tap reaches the bot as Telegram delivers it. The emulator
makes the updates (its test API, over HTTP), and each is handed to the process's real python-telegram-bot
application, whose answers go back to the emulator over HTTP.

Telegram hands an update over once, as the bot answers 200 at once (bot/webhook.py); now and then twice (the 200
got lost on the way), and the second must change nothing. An update whose process dies while handling it is
gone: the user, seeing no answer, asks again (tests/sim/run.py retries the step's request)."""

from __future__ import annotations

import random
from typing import Any

import httpx
from telegram import Update

from bot.emulator.world import ChatMessage

from .world import FIRST_TELEGRAM_ID, World

TWICE = 0.1  # how often Telegram delivers an update a second time


class Chats:
    def __init__(self, world: World, rng: random.Random) -> None:
        self._world, self._rng = world, rng
        self._http = httpx.AsyncClient(base_url=world.telegram.url)

    async def close(self) -> None:
        await self._http.aclose()

    async def say(self, n: int, text: str) -> list[ChatMessage]:
        """Investor n writes to the bot; what the bot wrote back."""
        chat_id = FIRST_TELEGRAM_ID + n
        sent = await self._http.post("/test/send", json={"user_id": chat_id, "text": text})
        sent.raise_for_status()
        await self._deliver()
        return self._since(chat_id, sent.json()["message_id"])

    async def press(self, n: int, message: ChatMessage, label: str) -> dict[str, Any] | None:
        """Investor n taps a button of one of the bot's messages; the bot's answer to the tap (None: the message
        has no such button any more, the bot took it away)."""
        chat_id = FIRST_TELEGRAM_ID + n
        data = next((b["callback_data"] for b in message.buttons() if b["text"] == label), None)
        if data is None:
            return None
        body = {"user_id": chat_id, "message_id": message.message_id, "data": data}
        pressed = await self._http.post("/test/press", json=body)
        pressed.raise_for_status()
        await self._deliver()
        return self._world.telegram.world.answers[pressed.json()["query_id"]]

    async def _deliver(self) -> None:
        telegram, application = self._world.telegram.world, self._world.application
        while telegram.updates:
            raw = telegram.updates.pop(0)  # handed over: answered 200, Telegram forgets it
            for _ in range(2 if self._rng.random() < TWICE else 1):
                await application.process_update(Update.de_json(raw, application.bot))

    def _since(self, chat_id: int, mark: int) -> list[ChatMessage]:
        return [m for m in self._world.telegram.world.chats[chat_id] if m.from_bot and m.message_id > mark]
