"""The admins hear when the IB connection has been down for longer than `alerts_broker_down_seconds`, and again
when it is back. A drop shorter than that (IB's nightly restart, a blip the reconnect covers) says nothing.

It follows the connection's events (a subscriber of broker.connection): a state other than ready starts a timer,
ready stops it. The notices go through the outbox as admin facts (the notifier copies them to each admin).
"""

from __future__ import annotations

import asyncio
import contextlib
from datetime import datetime

from broker.events import BrokerEvent, ConnectionChanged, ConnectionState
from core.db import Database
from core.outbox import Message, publish


class BrokerWatch:
    def __init__(self, db: Database, down_seconds: float) -> None:
        self._db, self._down_seconds = db, down_seconds
        self._down_since: datetime | None = None
        self._timer: asyncio.Task[None] | None = None
        self._told = False
        self._latest: ConnectionChanged | None = None  # the last state other than ready

    async def on_event(self, event: BrokerEvent) -> None:
        if not isinstance(event, ConnectionChanged):
            return
        if event.state is ConnectionState.READY:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._told:
                await self._tell("admin.broker_up", event, self._down_since or event.at)
            self._down_since, self._told = None, False
            return
        self._latest = event
        if self._down_since is None:
            self._down_since = event.at
            self._timer = asyncio.create_task(self._after_grace(event.at), name="broker watch")

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._timer

    async def _after_grace(self, since: datetime) -> None:
        await asyncio.sleep(self._down_seconds)
        assert self._latest is not None
        await self._tell("admin.broker_down", self._latest, since)
        self._told = True  # only once said: "back" follows a "down" the admins were given

    async def _tell(self, topic: str, event: ConnectionChanged, since: datetime) -> None:
        payload = {"state": event.state.value, "since": since.isoformat(), "detail": event.detail[:300]}
        message = Message(topic, f"{topic}/{since.isoformat()}", payload)
        await self._db.transact(lambda uow: publish(uow, [message]))
