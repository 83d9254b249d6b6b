"""The outbox: facts written in the same transaction as the change they tell of, read later by their consumers
(the notifier, copy trading). A fact is written once: its key is unique, and writing it again does nothing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, select

from core.bulk import insert_rows
from core.db import UnitOfWork
from core.models import OutboxMessage

OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Message:
    topic: str  # e.g. order.filled, order.completed, order.rejected, order.cancelled
    key: str
    payload: dict[str, Any]  # JSON: amounts as strings, times in ISO 8601


async def publish(uow: UnitOfWork, messages: Sequence[Message]) -> None:
    now = uow.clock.now()
    rows = [{"topic": m.topic, "key": m.key, "payload": m.payload, "created_at": now} for m in messages]
    await insert_rows(uow, OUTBOX, rows, ignore_conflicts=True)


async def messages(uow: UnitOfWork, topic: str | None = None, *, after: int = 0, limit: int = 100) -> list[Message]:
    """The messages written after id `after`, oldest first (what a consumer reads)."""
    query = select(OUTBOX).where(OUTBOX.c.id > after).order_by(OUTBOX.c.id).limit(limit)
    if topic is not None:
        query = query.where(OUTBOX.c.topic == topic)
    return [Message(row.topic, row.key, row.payload) for row in await uow.connection.execute(query)]
