"""Telegram updates by webhook, for several bot processes behind a load balancer: Telegram POSTs each update to
the public URL; whichever process the balancer picks checks the secret token (X-Telegram-Bot-Api-Secret-Token,
compared in constant time), puts the update on its application's queue and answers 200 at once. The bot is
stateless between updates (everything lives in PostgreSQL), so any process can take any update; an update
Telegram delivers twice is handled once (bot/gate.py)."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import web
from telegram import Update

from .context import OmnibotApplication

log = logging.getLogger("omnibot.bot")
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 (the header's name, not a secret)
PATH = "/telegram/webhook"


def telegram_routes(application: OmnibotApplication, secret: str) -> list[web.RouteDef]:
    async def receive(request: web.Request) -> web.Response:
        if not hmac.compare_digest(request.headers.get(SECRET_HEADER, "").encode(), secret.encode()):
            return web.Response(status=403, text="wrong secret token")
        if not application.running:  # starting or stopping: Telegram delivers it again (to another process)
            return web.Response(status=503, text="not taking updates now")
        try:
            update = Update.de_json(json.loads(await request.read()), application.bot)
        except (ValueError, KeyError, TypeError):
            return web.Response(status=400, text="not an update")
        await application.update_queue.put(update)
        return web.Response(text="ok")

    return [web.post(PATH, receive)]


@asynccontextmanager
async def by_webhook(application: OmnibotApplication, url: str, secret: str) -> AsyncIterator[None]:
    """Run the application without polling (the webhook's route feeds it), and tell Telegram where to POST;
    every bot process says the same, so any of them may start first."""
    await application.initialize()
    if application.post_init is not None:
        await application.post_init(application)
    await application.start()
    await application.bot.set_webhook(url, secret_token=secret, allowed_updates=Update.ALL_TYPES)
    log.info("taking Telegram updates by webhook")
    try:
        yield
    finally:
        await application.stop()
        await application.shutdown()
