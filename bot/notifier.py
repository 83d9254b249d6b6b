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
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Table, and_, case, delete, insert, or_, select, update
from telegram import Bot
from telegram.error import BadRequest, Forbidden, RetryAfter, TelegramError

from core.db import UnitOfWork
from core.models import OutboxMessage, User
from ledger.instruments import get_instrument

from .models import BlockedChat, OrderMessage
from .order_view import status_text
from .render import esc, shares, usd
from .services import Services

log = logging.getLogger("omnibot.notifier")
OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
ORDER_MESSAGES: Table = OrderMessage.__table__  # type: ignore[assignment]
BLOCKED: Table = BlockedChat.__table__  # type: ignore[assignment]
USERS: Table = User.__table__  # type: ignore[assignment]
CLAIM = timedelta(seconds=60)
URGENT = or_(OUTBOX.c.topic.like("order.%"), OUTBOX.c.topic.like("margin.%"), OUTBOX.c.topic.like("security.%"))
PUSHED = {"order.filled", "order.rejected", "order.expired", "order.cancelled"}  # a message of its own


class Notifier:
    def __init__(self, services: Services, bot: Bot, *, batch: int = 50, idle_seconds: float = 0.2) -> None:
        self._services, self._bot, self._batch, self._idle = services, bot, batch, idle_seconds
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notifier")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def deliver_due(self) -> int:
        """Send what is waiting, one claimed batch; how many messages were handled."""
        claimed = await self._services.db.transact(self._claim)
        for message in claimed:
            delivered = await self._deliver(message)
            if delivered:
                await self._services.db.transact(functools.partial(_processed, message_id=message["id"]))
        return len(claimed)

    async def _run(self) -> None:
        while True:
            try:
                if await self.deliver_due():
                    continue
            except Exception:  # the loop must outlive a bad moment: log and go on
                log.exception("notifier: delivery failed; trying again")
            await asyncio.sleep(self._idle)

    async def _claim(self, uow: UnitOfWork) -> list[dict[str, Any]]:
        now = uow.clock.now()
        due = and_(OUTBOX.c.processed_at.is_(None), or_(OUTBOX.c.claimed_until.is_(None), OUTBOX.c.claimed_until < now))
        query = (
            select(OUTBOX.c.id, OUTBOX.c.topic, OUTBOX.c.payload)
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

    async def _deliver(self, message: dict[str, Any]) -> bool:
        """Send one message; False to leave it for a later attempt."""
        payload, topic = message["payload"], message["topic"]
        owner = payload.get("owner_id")
        chat_id = owner and await self._services.db.transact(lambda uow: _reachable_chat(uow, owner), readonly=True)
        if not chat_id:
            return True  # not for an investor we can write to (the admins' topics come with the admin chat)
        try:
            if topic.startswith("order."):
                await self._order_step(chat_id, topic, payload)
            elif topic == "margin.maintenance_breach":
                await self._bot.send_message(chat_id, _breach(payload))
        except Forbidden:
            await self._services.db.transact(lambda uow: _blocked(uow, chat_id))
        except RetryAfter:
            return False  # still flooded after the rate limiter's retries: the claim lapses and it goes again
        except TelegramError as exc:
            log.warning("notifier: %s for outbox message %s not delivered: %s", topic, message["id"], exc)
        return True

    async def _order_step(self, chat_id: int, topic: str, payload: dict[str, Any]) -> None:
        instrument = await self._services.db.transact(lambda uow: get_instrument(uow, payload["con_id"]), readonly=True)
        shown = await self._services.db.transact(lambda uow: _order_message(uow, payload["order_id"]), readonly=True)
        if shown is not None:
            with contextlib.suppress(BadRequest):  # the same text again ("not modified"), or the message is gone
                await self._bot.edit_message_text(status_text(payload, instrument.symbol), shown[0], shown[1])
        if topic in PUSHED:
            await self._bot.send_message(chat_id, _pushed(topic, payload, instrument.symbol))


def _pushed(topic: str, payload: dict[str, Any], symbol: str) -> str:
    if topic == "order.filled":
        verb = "Bought" if payload["side"] == "buy" else "Sold"
        quantity, price = Decimal(payload["quantity"]), Decimal(payload["price"])
        left = Decimal(payload["ordered"]) - Decimal(payload["filled"])
        rest = f" {shares(left)} still to go." if left else " Your order is complete."
        return (
            f"<b>{verb} {shares(quantity)} {esc(symbol)}</b> at {usd(price)} "
            f"(commission {usd(Decimal(payload['commission']))}).{rest}"
        )
    return status_text(payload, symbol)


def _breach(payload: dict[str, Any]) -> str:
    return (
        "<b>Margin call</b>: your equity "
        f"{usd(Decimal(payload['equity']))} is below the maintenance requirement "
        f"{usd(Decimal(payload['maintenance_requirement']))}. Please deposit cash or sell shares to cover "
        f"{usd(-Decimal(payload['excess_liquidity']))}."
    )


async def _reachable_chat(uow: UnitOfWork, owner_id: str) -> int | None:
    query = (
        select(USERS.c.telegram_id)
        .outerjoin(BLOCKED, BLOCKED.c.telegram_id == USERS.c.telegram_id)
        .where(USERS.c.id == UUID(owner_id), BLOCKED.c.telegram_id.is_(None))
    )
    found: int | None = (await uow.connection.execute(query)).scalar_one_or_none()
    return found


async def _order_message(uow: UnitOfWork, order_id: str) -> tuple[int, int] | None:
    columns = select(ORDER_MESSAGES.c.chat_id, ORDER_MESSAGES.c.message_id)
    query = columns.where(ORDER_MESSAGES.c.order_id == UUID(order_id))
    row = (await uow.connection.execute(query)).one_or_none()
    return None if row is None else (row.chat_id, row.message_id)


async def _blocked(uow: UnitOfWork, telegram_id: int) -> None:
    await uow.connection.execute(delete(BLOCKED).where(BLOCKED.c.telegram_id == telegram_id))
    await uow.connection.execute(insert(BLOCKED).values(telegram_id=telegram_id, blocked_at=uow.clock.now()))


async def _processed(uow: UnitOfWork, message_id: int) -> None:
    await uow.connection.execute(update(OUTBOX).where(OUTBOX.c.id == message_id).values(processed_at=uow.clock.now()))


async def unblocked(uow: UnitOfWork, telegram_id: int) -> None:
    """The user wrote again: they can be written to."""
    await uow.connection.execute(delete(BLOCKED).where(BLOCKED.c.telegram_id == telegram_id))
