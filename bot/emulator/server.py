"""The emulator's HTTP server: the Bot API, the test API and the web chat page, on one aiohttp application."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from .bot_api import BotApi
from .test_api import TestApi
from .world import CHAT_BURST, World

PAGE = Path(__file__).with_name("chat.html")


class Emulator:
    """Start it, point the bot at `base_url` (python-telegram-bot's `base_url`), and drive it through `world` or
    the test API."""

    def __init__(
        self, token: str, *, chat_burst: float = CHAT_BURST, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self.world = World(token, chat_burst, monotonic=monotonic)
        self.bot_api = BotApi(self.world)
        self.test_api = TestApi(self.world, self.bot_api)
        self.app = web.Application(client_max_size=20 * 1024 * 1024)
        self.app.add_routes(
            [
                web.route("*", "/bot{token}/{method}", self.bot_api.handle),
                web.get("/", self._page),
                *self.test_api.routes(),
            ]
        )
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, host: str = "127.0.0.1", port: int = 8088) -> None:
        # Long polls (the bot's getUpdates, the page's chat reads) are cut short at shutdown, not waited for.
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]  # the port bound, when 0

    async def stop(self) -> None:
        await self.bot_api.webhook.delete()
        if self._runner is not None:
            await self._runner.cleanup()

    async def _page(self, _request: web.Request) -> web.Response:
        return web.Response(text=PAGE.read_text(), content_type="text/html")
