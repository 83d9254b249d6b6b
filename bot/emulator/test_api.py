"""The other side of the chat, at /test/...: act as any user (send a message, press a button, block the bot) and
read what the bot answered. Tests drive the bot through it; the web chat page (/) is built on it too.

    POST /test/send     {"user_id", "text", "first_name"?}     a user writes to the bot
    POST /test/press    {"user_id", "message_id", "data"}      a user taps an inline button of the bot's message
                        ("forge": true sends data no button carries, as a tampered client could)
    POST /test/block    {"user_id", "blocked"}                 the user blocks (or unblocks) the bot
    POST /test/banner   {"user_id", "text"}                    a line the web page shows above that user's chat
    GET  /test/chat/{user_id}?after=N&wait=S                   the chat's messages after message N (edits applied),
                                                               waiting up to S seconds for something new
    GET  /test/answer/{query_id}                               the bot's answer to a button press
    GET  /test/file/{file_id}                                  an uploaded photo or document
    GET  /test/stats                                           flood refusals, users, pending updates
"""

from __future__ import annotations

import secrets
from typing import Any

from aiohttp import web

from .bot_api import BotApi
from .world import ChatMessage, World


class TestApi:
    __test__ = False  # not a pytest class, whatever its name

    def __init__(self, world: World, bot_api: BotApi) -> None:
        self.world, self.bot_api = world, bot_api

    def routes(self) -> list[web.RouteDef]:
        return [
            web.post("/test/send", self.send),
            web.post("/test/press", self.press),
            web.post("/test/block", self.block),
            web.post("/test/banner", self.banner),
            web.get("/test/chat/{user_id}", self.chat),
            web.get("/test/answer/{query_id}", self.answer),
            web.get("/test/file/{file_id}", self.file),
            web.get("/test/stats", self.stats),
        ]

    async def send(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id, text = int(body["user_id"]), str(body.get("text", ""))
        if not text.strip() or len(text) > 4096:
            raise web.HTTPBadRequest(text="a message has 1 to 4096 characters")
        user = self.world.user(user_id, body.get("first_name", ""), body.get("username", ""))
        message = self.world.add_message(user_id, from_bot=False, text=text, html=text)
        rendered = self.bot_api.render(message) | {"from": user}
        if text.startswith("/"):
            command = text.split()[0]
            rendered["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
        await self.world.push_update("message", rendered)
        return web.json_response(_shown(message))

    async def press(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id, data = int(body["user_id"]), str(body["data"])
        message = self.world.message(user_id, int(body["message_id"]))
        if message is None or not message.from_bot:
            raise web.HTTPNotFound(text="no such message of the bot in this chat")
        if not body.get("forge") and data not in {b.get("callback_data") for b in message.buttons()}:
            raise web.HTTPBadRequest(text="the message has no button with this data")
        query_id = secrets.token_hex(8)
        self.world.answers[query_id] = {"answered": False}
        await self.world.push_update(
            "callback_query",
            {
                "id": query_id,
                "from": self.world.user(user_id),
                "message": self.bot_api.render(message),
                "chat_instance": str(user_id),
                "data": data,
            },
        )
        return web.json_response({"query_id": query_id})

    async def block(self, request: web.Request) -> web.Response:
        body = await request.json()
        user_id = int(body["user_id"])
        if body.get("blocked", True):
            self.world.blocked.add(user_id)
        else:
            self.world.blocked.discard(user_id)
        return web.json_response({"blocked": user_id in self.world.blocked})

    async def banner(self, request: web.Request) -> web.Response:
        body = await request.json()
        self.world.banners[int(body["user_id"])] = str(body.get("text", ""))[:300]
        await self.world.changed()
        return web.json_response({"ok": True})

    async def chat(self, request: web.Request) -> web.Response:
        user_id = int(request.match_info["user_id"])
        after, wait = int(request.query.get("after", 0)), min(float(request.query.get("wait", 0)), 30.0)
        seen = int(request.query.get("seen", -1))  # the revision the reader has: wait until it moves
        if wait and self.world.revision == seen:
            await self.world.wait_for_change(wait)
        messages = [_shown(m) for m in self.world.chats.get(user_id, []) if m.message_id > after]
        banner = self.world.banners.get(user_id, "")
        return web.json_response({"version": self.world.revision, "messages": messages, "banner": banner})

    async def answer(self, request: web.Request) -> web.Response:
        found = self.world.answers.get(request.match_info["query_id"])
        if found is None:
            raise web.HTTPNotFound(text="no such button press")
        return web.json_response(found)

    async def file(self, request: web.Request) -> web.Response:
        found = self.world.files.get(request.match_info["file_id"])
        if found is None:
            raise web.HTTPNotFound(text="no such file")
        content, content_type = found
        return web.Response(body=content, content_type=content_type)

    async def stats(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "users": len(self.world.users),
                "pending_updates": len(self.world.updates),
                "refused_for_flood": self.world.refused_for_flood,
                "commands": self.world.commands,
            }
        )


def _shown(message: ChatMessage) -> dict[str, Any]:
    return {
        "message_id": message.message_id,
        "from_bot": message.from_bot,
        "text": message.text,
        "html": message.html,
        "buttons": [[b.get("text"), b.get("callback_data") or b.get("url")] for b in message.buttons()],
        "rows": [[b.get("text") for b in row] for row in (message.reply_markup or {}).get("inline_keyboard", [])],
        "photo": f"/test/file/{message.photo}" if message.photo else None,
        "document": f"/test/file/{message.document}" if message.document else None,
        "file_name": message.file_name,
        "edits": message.edits,
        "silent": message.silent,
    }
