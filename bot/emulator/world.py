"""What the emulated Telegram knows: its users, the private chats between each user and the bot, every message in
them (edits applied), the bot's pending updates, answered button presses, uploaded photos, and the flood limits.

Everything here is plain Python in one event loop: the HTTP layer (`bot_api`, `test_api`) reads and changes it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

BOT_ID = 7_000_000_001
BOT_USERNAME = "omnibot_emulated_bot"
GLOBAL_RATE, GLOBAL_BURST = 30.0, 30.0  # messages a second to all chats (Telegram's broadcast limit)
CHAT_RATE, CHAT_BURST = 1.0, 5.0  # about one a second per chat, with the short bursts Telegram tolerates


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    at: float = 0.0

    def take(self, now: float) -> float:
        """Take one token: 0 when granted, else the seconds until one is free (nothing taken)."""
        if self.tokens < 0:
            self.tokens, self.at = self.burst, now
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


@dataclass
class ChatMessage:
    message_id: int
    chat_id: int
    from_bot: bool
    date: int
    text: str = ""  # visible text (tags removed)
    html: str = ""  # as sent, for the web page
    reply_markup: dict[str, Any] | None = None
    photo: str | None = None  # file id
    document: str | None = None  # file id
    file_name: str = ""
    edits: int = 0
    silent: bool = False  # sent with disable_notification: shown without a sound

    def buttons(self) -> list[dict[str, Any]]:
        rows = (self.reply_markup or {}).get("inline_keyboard", [])
        return [button for row in rows for button in row]


@dataclass
class World:
    bot_token: str
    chat_burst: float = CHAT_BURST  # messages the bot may send to one chat at once before the 1-a-second limit
    monotonic: Callable[[], float] = time.monotonic  # the flood limits' clock (a simulation brings its own)
    users: dict[int, dict[str, Any]] = field(default_factory=dict)
    chats: dict[int, list[ChatMessage]] = field(default_factory=lambda: defaultdict(list))
    updates: list[dict[str, Any]] = field(default_factory=list)
    answers: dict[str, dict[str, Any]] = field(default_factory=dict)  # callback query id -> the bot's answer
    files: dict[str, tuple[bytes, str]] = field(default_factory=dict)  # file id -> (content, content type)
    commands: list[dict[str, str]] = field(default_factory=list)
    blocked: set[int] = field(default_factory=set)  # users who blocked the bot
    banners: dict[int, str] = field(default_factory=dict)  # a line the web page shows above a user's chat
    refused_for_flood: int = 0
    down: bool = False  # every Bot API call answered 502 (Telegram's outages happen)
    revision: int = 0  # moves with every change, for readers waiting on one
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _changed: asyncio.Condition = field(default_factory=asyncio.Condition)
    _global: TokenBucket = field(default_factory=lambda: TokenBucket(GLOBAL_RATE, GLOBAL_BURST))
    _per_chat: dict[int, TokenBucket] = field(default_factory=dict)

    def user(self, user_id: int, first_name: str = "", username: str = "") -> dict[str, Any]:
        if user_id not in self.users:
            self.users[user_id] = {
                "id": user_id,
                "is_bot": False,
                "first_name": first_name or f"User {user_id}",
                "username": username or f"user{user_id}",
                "language_code": "en",
            }
        return self.users[user_id]

    def bot_user(self) -> dict[str, Any]:
        return {"id": BOT_ID, "is_bot": True, "first_name": "Omnibot", "username": BOT_USERNAME}

    def message(self, chat_id: int, message_id: int) -> ChatMessage | None:
        return next((m for m in self.chats.get(chat_id, []) if m.message_id == message_id), None)

    def add_message(self, chat_id: int, *, from_bot: bool, **content: Any) -> ChatMessage:
        message = ChatMessage(next(self._ids), chat_id, from_bot, int(time.time()), **content)
        self.chats[chat_id].append(message)
        return message

    def flood_wait(self, chat_id: int) -> int:
        """0 when the bot may send to the chat now, else Telegram's retry_after in whole seconds."""
        now = self.monotonic()
        chat = self._per_chat.setdefault(chat_id, TokenBucket(CHAT_RATE, self.chat_burst))
        wait = chat.take(now)
        if not wait:
            wait = self._global.take(now)
            if wait:
                chat.tokens += 1  # not sent after all: give the chat its token back
        if wait:
            self.refused_for_flood += 1
        return int(wait) + 1 if wait else 0

    def flood(self, chat_id: int) -> None:
        """The chat's burst spent (the bot wrote to it a lot just now): its next message gets a 429."""
        self._per_chat[chat_id] = TokenBucket(CHAT_RATE, self.chat_burst, tokens=0.0, at=self.monotonic())

    async def push_update(self, kind: str, payload: dict[str, Any]) -> dict[str, Any]:
        update = {"update_id": next(self._update_ids), kind: payload}
        async with self._changed:
            self.updates.append(update)
            self.revision += 1
            self._changed.notify_all()
        return update

    async def changed(self) -> None:
        """Tell long-polling readers (the bot, the web page) that something happened."""
        async with self._changed:
            self.revision += 1
            self._changed.notify_all()

    async def wait_for_change(self, seconds: float) -> None:
        async with self._changed:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), seconds)

    def pending_updates(self, offset: int, limit: int) -> list[dict[str, Any]]:
        if offset:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]  # confirmed: forgotten
        return self.updates[:limit]
