"""The admins hear when no broker process is alive. The elected one writes a heartbeat every two seconds
(broker/leadership.py); when the last one is older than `alerts_broker_down_seconds`, IB is out of reach for
everyone, however healthy IB itself is, and no broker process is left to say so (alerts/broker_watch.py speaks
for a live one). So the workers look. Any number of them may: the notices' keys come from the database (the
silent term and its last heartbeat), so the admins are told once, and told again when a broker leads."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Table, select

from broker.leadership import leader
from core.db import Database, UnitOfWork
from core.models import OutboxMessage
from core.outbox import Message, publish
from core.rounds import Rounds

OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
SILENT = "admin.broker_down/silent/"


class LeaderWatch:
    def __init__(self, db: Database, down_seconds: float, every: float = 5.0) -> None:
        self._db, self._down = db, timedelta(seconds=down_seconds)
        self._rounds = Rounds("broker heartbeat watch", self.look, every)

    def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()

    async def look(self) -> str | None:
        """Tell of a silent broker, or of one back after silence (each once, whoever looks); the topic that
        applies now, if any."""
        return await self._db.transact(self._look)

    async def _look(self, uow: UnitOfWork) -> str | None:
        row = await leader(uow)
        if row is None:
            return None  # never elected: a platform not started yet has nothing to miss
        if uow.clock.now() - row.heartbeat_at > self._down:
            term = f"{row.epoch}/{row.heartbeat_at.isoformat()}"
            detail = f"no broker process is running (the last, {row.holder}, fell silent)"
            payload = {"state": "no broker process", "since": row.heartbeat_at.isoformat(), "detail": detail}
            await publish(uow, [Message("admin.broker_down", SILENT + term, payload)])
            return "admin.broker_down"
        told = await _last_silence(uow)
        if told is None:
            return None
        term = told.key.removeprefix(SILENT)
        back = {"state": "ready", "since": told.payload["since"], "detail": f"{row.holder} leads"}
        await publish(uow, [Message("admin.broker_up", f"admin.broker_up/silent/{term}", back)])
        return "admin.broker_up"


async def _last_silence(uow: UnitOfWork) -> Any:
    query = (
        select(OUTBOX.c.key, OUTBOX.c.payload)
        .where(OUTBOX.c.topic == "admin.broker_down", OUTBOX.c.key.like(f"{SILENT}%"))
        .order_by(OUTBOX.c.id.desc())
        .limit(1)
    )
    return (await uow.connection.execute(query)).first()
