"""Webhook delivery, as Telegram does it: once a bot sets a webhook, every update is POSTed to its URL as JSON,
with the secret token in the X-Telegram-Bot-Api-Secret-Token header; an update is delivered until the bot answers
2xx (retried a second later otherwise), and getUpdates is refused (409) while the webhook is set."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import aiohttp

from .world import World

RETRY_SECONDS = 1.0
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (the header's name, not a secret)


@dataclass
class Hook:
    url: str
    secret: str


class WebhookDelivery:
    def __init__(self, world: World) -> None:
        self.world = world
        self.hook: Hook | None = None
        self.delivered = 0
        self.last_error = ""
        self._task: asyncio.Task[None] | None = None

    def set(self, url: str, secret: str) -> None:
        self.hook = Hook(url, secret)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._deliver_forever(), name="emulator webhook")

    async def delete(self) -> None:
        self.hook = None
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    def info(self) -> dict[str, Any]:
        pending = len(self.world.updates)
        found: dict[str, Any] = {"url": self.hook.url if self.hook else "", "has_custom_certificate": False}
        found["pending_update_count"] = pending
        if self.last_error:
            found["last_error_message"] = self.last_error
        return found

    async def _deliver_forever(self) -> None:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
            while self.hook is not None:
                if not self.world.updates:
                    await self.world.wait_for_change(1.0)
                    continue
                update = self.world.updates[0]
                if await self._post(http, self.hook, update):
                    self.world.updates.pop(0)
                    self.delivered += 1
                else:
                    await asyncio.sleep(RETRY_SECONDS)

    async def _post(self, http: aiohttp.ClientSession, hook: Hook, update: dict[str, Any]) -> bool:
        headers = {SECRET_HEADER: hook.secret} if hook.secret else {}
        try:
            async with http.post(hook.url, json=update, headers=headers) as answer:
                if 200 <= answer.status < 300:
                    self.last_error = ""
                    return True
                self.last_error = f"Wrong response from the webhook: {answer.status} {answer.reason}"
        except (aiohttp.ClientError, TimeoutError) as exc:
            self.last_error = f"Connection failed: {type(exc).__name__}"
        return False
