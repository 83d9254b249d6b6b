"""The notifier: what the outbox tells of (order steps, fills, margin breaches) goes to the investors on Telegram,
within Telegram's limits (the bot's rate limiter waits out a 429), fills and security first.

Delivery is at least once and never lost: a worker claims a batch for a while (`claimed_until`), sends, then
marks each message processed; if the worker dies, the claim lapses and another sends again. A user who blocked
the bot is written to no more, until they send /start again.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, case, delete, func, insert, or_, select, update
from telegram import Bot
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TelegramError

from core import metrics, notifications
from core.db import UnitOfWork
from core.models import OutboxMessage, User
from core.outbox import Message, publish
from core.users import Role, UserStatus
from ledger.instruments import get_instrument

from .models import BlockedChat, OrderMessage
from .notice_text import breach_text, note_text, pushed_text
from .order_view import status_text
from .render import esc
from .services import Services

log = logging.getLogger("omnibot.notifier")
OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
ORDER_MESSAGES: Table = OrderMessage.__table__  # type: ignore[assignment]
BLOCKED: Table = BlockedChat.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]
CLAIM = timedelta(seconds=60)
GIVE_UP = timedelta(days=1)  # a notice Telegram would not take for this long is dropped (and logged)
CHAT_INTERVAL = 1.0  # seconds between messages to one chat (Telegram: about one a second)
URGENT = or_(
    *(OUTBOX.c.topic.like(f"{family}.%") for family in ("order", "margin", "risk", "security", "payments", "account"))
)
DEPTH_EVERY = 5.0  # seconds between two counts of the messages waiting (the outbox depth metric)
PUSHED = {"order.filled", "order.rejected", "order.expired", "order.cancelled"}  # a message of its own


class Notifier:
    def __init__(
        self,
        services: Services,
        bot: Bot,
        *,
        batch: int = 500,
        idle_seconds: float = 0.2,
        monotonic: Callable[[], float] = time.monotonic,  # the pacing's clock (the simulation's is its own)
    ) -> None:
        self._services, self._bot, self._batch, self._idle = services, bot, batch, idle_seconds
        self._monotonic = monotonic
        self._task: asyncio.Task[None] | None = None
        self._next_send: dict[int, float] = {}  # chat -> when it may be written to again (monotonic seconds)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier")

    async def readiness(self) -> tuple[bool, str]:
        """For /readyz: the delivery loop runs."""
        alive = self._task is not None and not self._task.done()
        return alive, "delivering" if alive else "stopped"

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def deliver_due(self) -> int:
        """Send what is waiting, one claimed batch; how many messages were handled. A chat written to less than
        a second ago waits (with the rest of its messages, in order) for a later round: one busy chat never
        holds up the others, and no chat gets more than Telegram's one message a second."""
        db = self._services.db
        claimed = await db.transact(self._claim)
        for_admins = [m for m in claimed if m["topic"].startswith("admin.") and not m["payload"].get("owner_id")]
        if for_admins:  # one copy for each admin, delivered (and paced) like any investor's message
            await db.transact(lambda uow: _to_admins(uow, for_admins))
        owners = {UUID(m["payload"]["owner_id"]) for m in claimed if m["payload"].get("owner_id")}
        chats, chosen = await db.transact(lambda uow: _audience(uow, owners), readonly=True)
        now, busy, later, nobody = self._monotonic(), set(), [], []
        sending: list[tuple[dict[str, Any], int]] = []
        for message in claimed:
            owner = message["payload"].get("owner_id", "")
            chat_id = chats.get(owner)
            mode = notifications.mode_for(chosen, owner, message["topic"])
            message["silent"] = mode == "silent"
            if chat_id is None or mode == "off":
                nobody.append(message["id"])  # no one to write to (admins' topics: the admin chat), or turned off
            elif chat_id in busy or self._next_send.get(chat_id, 0.0) > now:
                busy.add(chat_id)  # this round has its message, or it had one less than a second ago
                later.append((message["id"], chat_id))
            else:
                busy.add(chat_id)
                sending.append((message, chat_id))
        delivered = await asyncio.gather(*(self._deliver(message, chat_id) for message, chat_id in sending))
        done = nobody + [message["id"] for (message, _chat), ok in zip(sending, delivered, strict=True) if ok]
        failed = {chat_id for (_message, chat_id), ok in zip(sending, delivered, strict=True) if not ok}
        # A chat whose message must go again keeps the rest claimed with it: they go after it, in order.
        released = [message_id for message_id, chat_id in later if chat_id not in failed]
        await db.transact(functools.partial(_settle, done=done, later=released))
        metrics.NOTIFICATIONS.labels("sent").inc(len(done) - len(nobody))
        metrics.NOTIFICATIONS.labels("not_wanted").inc(len(nobody))
        metrics.NOTIFICATIONS.labels("deferred").inc(len(later) + len(sending) - (len(done) - len(nobody)))
        return len(done)

    async def _run(self) -> None:
        counted = 0.0
        while True:
            try:
                if time.monotonic() - counted > DEPTH_EVERY:
                    metrics.OUTBOX_DEPTH.set(await self._services.db.transact(_waiting, readonly=True))
                    counted = time.monotonic()
                if await self.deliver_due():
                    continue
            except Exception:  # the loop must outlive a bad moment: log and go on
                log.exception("notifier: delivery failed; trying again")
            await asyncio.sleep(self._idle)

    async def _claim(self, uow: UnitOfWork) -> list[dict[str, Any]]:
        now = uow.clock.now()
        due = and_(OUTBOX.c.processed_at.is_(None), or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now))
        query = (
            select(OUTBOX.c.id, OUTBOX.c.topic, OUTBOX.c.payload, OUTBOX.c.created_at)
            .where(due)
            .order_by(case((URGENT, 0), else_=1), OUTBOX.c.id)
            .limit(self._batch)
            .with_for_update(skip_locked=True)
        )
        rows = [dict(row._mapping) for row in await uow.connection.execute(query)]
        if rows:
            ids = [row["id"] for row in rows]
            await uow.connection.execute(update(OUTBOX).where(OUTBOX.c.id.in_(ids)).values(claimed_until=now + CLAIM))
        return rows

    async def _deliver(self, message: dict[str, Any], chat_id: int) -> bool:
        """Send one message; False to leave it for a later attempt."""
        payload, topic = message["payload"], message["topic"]
        try:
            if topic.startswith("order."):
                sends = await self._order_step(chat_id, topic, payload)
            elif topic == "news.broadcast":  # the admin's words, shown as they wrote them (escaped)
                silent = payload.get("mode") == "silent"
                await self._bot.send_message(chat_id, esc(payload["text"]), disable_notification=silent)
                sends = 1
            elif topic == "margin.maintenance_breach":
                await self._bot.send_message(chat_id, breach_text(payload))
                sends = 1
            elif note := note_text(topic, payload):
                await self._bot.send_message(chat_id, note, disable_notification=message["silent"])
                sends = 1
            else:
                sends = 0
            self._next_send[chat_id] = self._monotonic() + CHAT_INTERVAL * sends
        except Forbidden:
            await self._services.db.transact(lambda uow: _blocked(uow, chat_id))
        except BadRequest as exc:  # refused for good (a BadRequest is a NetworkError too: caught first)
            log.warning("notifier: %s for outbox message %s not delivered: %s", topic, message["id"], exc)
        except (RetryAfter, NetworkError) as exc:  # flooded, or Telegram unreachable or failing (a 5xx, a timeout)
            if self._services.clock.now() - message["created_at"] > GIVE_UP:
                log.error("notifier: %s for outbox message %s given up after a day: %s", topic, message["id"], exc)
                return True
            # The claim lapses and it goes again (a timeout may have got through: sent twice). Until then the
            # chat takes nothing newer, which would overtake it.
            self._next_send[chat_id] = self._monotonic() + CLAIM.total_seconds()
            return False
        except TelegramError as exc:
            log.warning("notifier: %s for outbox message %s not delivered: %s", topic, message["id"], exc)
        return True

    async def _order_step(self, chat_id: int, topic: str, payload: dict[str, Any]) -> int:
        """Edit the order's message and, for a fill or an end, send one of its own; the messages sent."""
        sends = 0
        symbol, shown = await self._services.db.transact(lambda uow: _order_shown(uow, payload), readonly=True)
        if shown is not None:
            with contextlib.suppress(BadRequest):  # the same text again ("not modified"), or the message is gone
                sends += 1
                await self._bot.edit_message_text(status_text(payload, symbol), shown[0], shown[1])
        if topic in PUSHED:
            sends += 1
            await self._bot.send_message(chat_id, pushed_text(topic, payload, symbol))
        return sends


async def _to_admins(uow: UnitOfWork, messages: list[dict[str, Any]]) -> None:
    admins = select(USERS.c.id).where(USERS.c.role == Role.ADMIN.value, USERS.c.status == UserStatus.ACTIVE.value)
    ids = list((await uow.connection.execute(admins)).scalars())
    await publish(
        uow,
        [
            Message(m["topic"], f"admin-copy/{m['id']}/{admin}", m["payload"] | {"owner_id": str(admin)})
            for m in messages
            for admin in ids
        ],
    )


async def _audience(uow: UnitOfWork, owners: set[UUID]) -> tuple[dict[str, int], dict[tuple[str, str], str]]:
    """Each owner's chat, and what they chose to hear of (bot/notifications.py)."""
    return await _reachable_chats(uow, owners), await notifications.chosen_modes(uow, owners)


async def _reachable_chats(uow: UnitOfWork, owners: set[UUID]) -> dict[str, int]:
    """Each owner's Telegram chat (by the owner's id as the outbox writes it), leaving out who blocked the bot."""
    if not owners:
        return {}
    query = (
        select(USERS.c.id, USERS.c.telegram_id)
        .outerjoin(BLOCKED, BLOCKED.c.telegram_id == USERS.c.telegram_id)
        .where(USERS.c.id.in_(owners), BLOCKED.c.telegram_id.is_(None))
    )
    return {str(row.id): row.telegram_id for row in await uow.connection.execute(query)}


async def _order_shown(uow: UnitOfWork, payload: dict[str, Any]) -> tuple[str, tuple[int, int] | None]:
    """The order's symbol, and the chat message that shows the order, if it was placed from the bot."""
    symbol = (await get_instrument(uow, payload["con_id"])).symbol
    columns = select(ORDER_MESSAGES.c.chat_id, ORDER_MESSAGES.c.message_id)
    query = columns.where(ORDER_MESSAGES.c.order_id == UUID(payload["order_id"]))
    row = (await uow.connection.execute(query)).one_or_none()
    return symbol, None if row is None else (row.chat_id, row.message_id)


async def _blocked(uow: UnitOfWork, telegram_id: int) -> None:
    await uow.connection.execute(delete(BLOCKED).where(BLOCKED.c.telegram_id == telegram_id))
    await uow.connection.execute(insert(BLOCKED).values(telegram_id=telegram_id, blocked_at=uow.clock.now()))


async def _waiting(uow: UnitOfWork) -> int:
    query = select(func.count()).select_from(OUTBOX).where(OUTBOX.c.processed_at.is_(None))
    return int(await uow.connection.scalar(query) or 0)


async def _settle(uow: UnitOfWork, done: list[int], later: list[int]) -> None:
    """Mark what was delivered, and give back the claim on what waits for a later round."""
    if done:
        await uow.connection.execute(update(OUTBOX).where(OUTBOX.c.id.in_(done)).values(processed_at=uow.clock.now()))
    if later:
        await uow.connection.execute(update(OUTBOX).where(OUTBOX.c.id.in_(later)).values(claimed_until=None))


async def unblocked(uow: UnitOfWork, telegram_id: int) -> None:
    """The user wrote again: they can be written to."""
    await uow.connection.execute(delete(BLOCKED).where(BLOCKED.c.telegram_id == telegram_id))
