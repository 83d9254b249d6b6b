"""The Bot API methods Omnibot uses, at /bot<token>/<method>, answered and refused as Telegram does.

Parameters arrive as JSON, as a form (python-telegram-bot sends each value JSON-encoded as a string), or as
multipart with a file; answers are {"ok": true, "result": ...} or {"ok": false, "error_code", "description"},
with `parameters.retry_after` on a 429.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import BodyPartReader, web

from .telegram_html import EntityError, visible_text
from .webhook import WebhookDelivery
from .world import ChatMessage, World

MAX_TEXT, MAX_CAPTION, MAX_CALLBACK_DATA = 4096, 1024, 64
MAX_DOCUMENT = 50 * 1024 * 1024  # what a bot may send
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the same as a current "
    "content and reply markup of the message"
)
Params = dict[str, Any]


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code, self.description, self.retry_after = code, description, retry_after


def bad_request(reason: str) -> ApiError:
    return ApiError(400, f"Bad Request: {reason}")


class BotApi:
    def __init__(self, world: World) -> None:
        self.world = world
        self.webhook = WebhookDelivery(world)
        self.methods: dict[str, Callable[[Params], Awaitable[Any]]] = {
            "getme": self.get_me,
            "getupdates": self.get_updates,
            "setwebhook": self.set_webhook,
            "deletewebhook": self.delete_webhook,
            "getwebhookinfo": self.get_webhook_info,
            "setmycommands": self.set_my_commands,
            "getmycommands": self.get_my_commands,
            "sendmessage": self.send_message,
            "editmessagetext": self.edit_message_text,
            "editmessagereplymarkup": self.edit_reply_markup,
            "answercallbackquery": self.answer_callback_query,
            "sendphoto": lambda params: self._send_file(params, "photo"),
            "senddocument": lambda params: self._send_file(params, "document"),
            "deletemessage": self.delete_message,
        }

    async def handle(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.world.bot_token:
            return _answer(ApiError(401, "Unauthorized"))
        if self.world.down:  # Telegram's own trouble, as its front answers it
            return web.Response(status=502, text="Bad Gateway")
        method = self.methods.get(request.match_info["method"].lower())
        if method is None:
            return _answer(ApiError(404, "Not Found: method not found"))
        try:
            return _answer(await method(await _params(request)))
        except ApiError as refused:
            return _answer(refused)

    async def get_me(self, _params: Params) -> Any:
        return self.world.bot_user() | {"can_join_groups": False, "supports_inline_queries": False}

    async def get_updates(self, params: Params) -> Any:
        if self.webhook.hook is not None:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook")
        offset, limit = _int(params, "offset", 0), min(_int(params, "limit", 100), 100)
        timeout = min(float(params.get("timeout") or 0), 50.0)
        pending = self.world.pending_updates(offset, limit)
        if not pending and timeout:
            await self.world.wait_for_change(timeout)
            pending = self.world.pending_updates(offset, limit)
        return pending

    async def set_webhook(self, params: Params) -> Any:
        url, secret = str(params.get("url") or ""), str(params.get("secret_token") or "")
        if not url:
            await self.webhook.delete()
        elif not url.startswith(("http://", "https://")):
            raise bad_request("bad webhook: an HTTPS URL must be provided for webhook")
        else:
            self.webhook.set(url, secret)
        return True

    async def delete_webhook(self, _params: Params) -> Any:
        await self.webhook.delete()
        return True

    async def get_webhook_info(self, _params: Params) -> Any:
        return self.webhook.info()

    async def set_my_commands(self, params: Params) -> Any:
        commands = _json(params, "commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise bad_request("commands must be a list of at most 100 commands")
        self.world.commands = [{"command": c["command"], "description": c["description"]} for c in commands]
        return True

    async def get_my_commands(self, _params: Params) -> Any:
        return self.world.commands

    async def send_message(self, params: Params) -> Any:
        chat_id = self._chat(params)
        html = str(params.get("text") or "")
        text = _checked_text(html, params, MAX_TEXT, "message text")
        markup = _markup(params)
        self._flood_check(chat_id)
        silent = _flag(params, "disable_notification")
        message = self.world.add_message(
            chat_id, from_bot=True, text=text, html=html, reply_markup=markup, silent=silent
        )
        await self.world.changed()
        return self.render(message)

    async def _send_file(self, params: Params, field: str) -> Any:
        """A photo or a document, uploaded with its caption; kept for /test/file."""
        chat_id = self._chat(params)
        upload = params.get(field)
        if not isinstance(upload, tuple):
            raise bad_request(f"there is no {field} in the request")
        if len(upload[0]) > MAX_DOCUMENT:
            raise ApiError(413, "Request Entity Too Large")
        caption_html = str(params.get("caption") or "")
        caption = _checked_text(caption_html, params, MAX_CAPTION, "caption", empty_ok=True)
        self._flood_check(chat_id)
        file_id = secrets.token_urlsafe(12)
        self.world.files[file_id] = upload[:2]
        content: dict[str, Any] = {field: file_id} | ({"file_name": upload[2]} if field == "document" else {})
        message = self.world.add_message(
            chat_id, from_bot=True, text=caption, html=caption_html, reply_markup=_markup(params),
            silent=_flag(params, "disable_notification"), **content,
        )  # fmt: skip
        await self.world.changed()
        return self.render(message)

    async def edit_message_text(self, params: Params) -> Any:
        message = self._bots_message(params)
        html = str(params.get("text") or "")
        text = _checked_text(html, params, MAX_TEXT, "message text")
        markup = _markup(params)
        if (html, markup) == (message.html, message.reply_markup):
            raise bad_request(NOT_MODIFIED)
        self._flood_check(message.chat_id)
        message.text, message.html, message.reply_markup, message.edits = text, html, markup, message.edits + 1
        await self.world.changed()
        return self.render(message)

    async def edit_reply_markup(self, params: Params) -> Any:
        message = self._bots_message(params)
        markup = _markup(params)
        if markup == message.reply_markup:
            raise bad_request(NOT_MODIFIED)
        message.reply_markup, message.edits = markup, message.edits + 1
        await self.world.changed()
        return self.render(message)

    async def answer_callback_query(self, params: Params) -> Any:
        query_id = str(params.get("callback_query_id") or "")
        if query_id not in self.world.answers or self.world.answers[query_id].get("answered"):
            raise bad_request("query is too old and response timeout expired or query ID is invalid")
        text = str(params.get("text") or "")
        if len(text) > 200:
            raise bad_request("MESSAGE_TOO_LONG")
        self.world.answers[query_id] = {"answered": True, "text": text, "show_alert": bool(params.get("show_alert"))}
        await self.world.changed()
        return True

    async def delete_message(self, params: Params) -> Any:
        message = self._bots_message(params)
        self.world.chats[message.chat_id].remove(message)
        await self.world.changed()
        return True

    def render(self, message: ChatMessage) -> dict[str, Any]:
        """The Message object as the Bot API returns and delivers it."""
        sender = self.world.bot_user() if message.from_bot else self.world.user(message.chat_id)
        chat = self.world.user(message.chat_id)
        rendered: dict[str, Any] = {
            "message_id": message.message_id,
            "date": message.date,
            "chat": {"id": message.chat_id, "type": "private", "first_name": chat["first_name"]},
            "from": sender,
        }
        if message.photo:
            size = {"file_id": message.photo, "file_unique_id": message.photo, "width": 800, "height": 600}
            rendered["photo"] = [size]
            if message.text:
                rendered["caption"] = message.text
        elif message.document:
            rendered["document"] = {"file_id": message.document, "file_unique_id": message.document,
                                    "file_name": message.file_name}  # fmt: skip
            if message.text:
                rendered["caption"] = message.text
        else:
            rendered["text"] = message.text
        if message.edits:
            rendered["edit_date"] = message.date
        if message.reply_markup:
            rendered["reply_markup"] = message.reply_markup
        return rendered

    def _chat(self, params: Params) -> int:
        chat_id = _int(params, "chat_id", 0)
        if chat_id not in self.world.users:
            raise bad_request("chat not found")
        if chat_id in self.world.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        return chat_id

    def _bots_message(self, params: Params) -> ChatMessage:
        message = self.world.message(self._chat(params), _int(params, "message_id", 0))
        if message is None:
            raise bad_request("message to edit not found")
        if not message.from_bot:
            raise bad_request("message can't be edited")
        return message

    def _flood_check(self, chat_id: int) -> None:
        wait = self.world.flood_wait(chat_id)
        if wait:
            raise ApiError(429, f"Too Many Requests: retry after {wait}", retry_after=wait)


def _checked_text(html: str, params: Params, limit: int, what: str, *, empty_ok: bool = False) -> str:
    if params.get("parse_mode") not in (None, "", "HTML"):
        raise bad_request(f"unsupported parse_mode {params.get('parse_mode')!r} (the emulator speaks HTML)")
    try:
        text = visible_text(html) if params.get("parse_mode") == "HTML" else html
    except EntityError as exc:
        raise bad_request(f"can't parse entities: {exc}") from None
    if not text.strip() and not empty_ok:
        raise bad_request(f"{what} is empty")
    if len(text) > limit:
        raise bad_request(f"{what} is too long")
    return text


def _flag(params: Params, name: str) -> bool:
    """A boolean parameter, sent as JSON (true) or as a form field ("true")."""
    return str(params.get(name, "")).lower() in ("true", "1")


def _markup(params: Params) -> dict[str, Any] | None:
    markup = _json(params, "reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict) or not isinstance(markup.get("inline_keyboard"), list):
        raise bad_request("can't parse reply keyboard markup JSON object")
    for row in markup["inline_keyboard"]:
        for button in row:
            if not str(button.get("text", "")).strip():
                raise bad_request("text buttons are unallowed in the inline keyboard")
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode()) <= MAX_CALLBACK_DATA:
                raise bad_request("BUTTON_DATA_INVALID")
            if data is None and "url" not in button:
                raise bad_request("can't parse inline keyboard button: a button needs callback_data or url")
    return markup


async def _params(request: web.Request) -> Params:
    params: Params = dict(request.query)
    if request.content_type == "application/json":
        params |= await request.json()
    elif request.content_type.startswith("multipart/"):
        reader = await request.multipart()
        while (part := await reader.next()) is not None:
            if not isinstance(part, BodyPartReader) or part.name is None:
                continue
            content = await part.read()
            if part.filename:
                kind = part.headers.get("Content-Type", "application/octet-stream")
                params[part.name] = (bytes(content), kind, part.filename)
            else:
                params[part.name] = content.decode()
    elif request.can_read_body:
        params |= dict(await request.post())
    return params


def _json(params: Params, name: str) -> Any:
    value = params.get(name)
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            raise bad_request(f"can't parse {name} JSON object") from None
    return value


def _int(params: Params, name: str, default: int) -> int:
    value = params.get(name, default)
    try:
        return int(value)
    except (TypeError, ValueError):
        raise bad_request(f"{name} must be an integer") from None


def _answer(result: Any) -> web.Response:
    if isinstance(result, ApiError):
        body: dict[str, Any] = {"ok": False, "error_code": result.code, "description": result.description}
        if result.retry_after is not None:
            body["parameters"] = {"retry_after": result.retry_after}
        return web.json_response(body, status=result.code)
    return web.json_response({"ok": True, "result": result})
