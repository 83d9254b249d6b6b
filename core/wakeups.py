"""Wake-ups across processes: a process that committed work for another (a block due for routing, a message for
the notifier, an alert set, a question for the broker) says so on a topic, and whoever listens there looks at the
database at once instead of at its next poll: in this process directly, in the others by PostgreSQL's
LISTEN/NOTIFY. A wake-up carries no data and may be lost (a listening connection drops), so every listener also
polls: a lost wake-up only delays. After a dropped connection comes back, every listener is woken once.

Topics in use: router (blocks due), copies (the copy desk), alerts (price alerts and protective orders
changed), broker.ask and broker.answer (broker/remote.py)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import defaultdict
from collections.abc import Callable

import asyncpg

log = logging.getLogger("omnibot.wakeups")
CHANNEL = "omnibot_wake"
CHECK_SECONDS = 2.0  # how often the listening connection is checked, and at most how long a reconnect waits


class Wakeups:
    def __init__(self, url: str | None) -> None:
        """`url`: the PostgreSQL database to listen on; None when this process is alone (SQLite)."""
        self._url = url
        self._origin = uuid.uuid4().hex[:12]  # our own notifications come back to us: told apart by this
        self._listeners: dict[str, list[Callable[[], None]]] = defaultdict(list)
        self._connection: asyncpg.Connection | None = None
        self._outgoing: set[str] = set()
        self._send = asyncio.Event()
        self._using = asyncio.Lock()  # one statement at a time on the connection (asyncpg's rule)
        self._tasks: list[asyncio.Task[None]] = []

    def on(self, topic: str, listener: Callable[[], None]) -> Callable[[], None]:
        """Call `listener` at every wake-up on `topic`; returns the function that stops it."""
        self._listeners[topic].append(listener)
        return lambda: self._listeners[topic].remove(listener) if listener in self._listeners[topic] else None

    def wake(self, topic: str) -> None:
        """Wake the listeners of `topic` here and in every other process. Call it once the work is committed."""
        self._tell(topic)
        if self._url is not None:
            self._outgoing.add(topic)  # a burst of wake-ups on one topic goes out as one notification
            self._send.set()

    async def start(self) -> None:
        if self._url is None:
            return
        with contextlib.suppress(OSError, asyncpg.PostgresError):
            await self._connect()  # else the keeper connects when the database is back
        self._tasks = [
            asyncio.create_task(self._keep_listening(), name="wake-ups: listen"),
            asyncio.create_task(self._send_loop(), name="wake-ups: notify"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close(timeout=2)

    def _tell(self, topic: str) -> None:
        for listener in list(self._listeners.get(topic, ())):
            try:
                listener()
            except Exception:  # one listener's fault must not keep the wake-up from the others
                log.exception("wake-up listener of %s failed", topic)

    def _on_notification(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        topic, _, origin = payload.rpartition(" ")
        if origin != self._origin:
            self._tell(topic)

    async def _connect(self) -> None:
        assert self._url is not None
        connection = await asyncpg.connect(self._url, timeout=CHECK_SECONDS * 5)
        await connection.add_listener(CHANNEL, self._on_notification)
        self._connection = connection

    async def _keep_listening(self) -> None:
        while True:
            await asyncio.sleep(CHECK_SECONDS)
            connection = self._connection
            try:
                if connection is not None and not connection.is_closed():
                    async with self._using:
                        await connection.fetchval("SELECT 1", timeout=CHECK_SECONDS)
                    continue
            except (OSError, asyncpg.PostgresError, TimeoutError, asyncpg.InterfaceError):
                pass
            self._connection = None
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close(timeout=1)
            try:
                await self._connect()
            except (OSError, asyncpg.PostgresError, TimeoutError) as exc:
                log.warning("wake-ups: cannot listen on the database (%s); polling meanwhile", exc)
                continue
            for topic in list(self._listeners):  # what was said while we were deaf
                self._tell(topic)

    async def _send_loop(self) -> None:
        while True:
            await self._send.wait()
            self._send.clear()
            topics, self._outgoing = self._outgoing, set()
            connection = self._connection
            if connection is None or connection.is_closed():
                continue  # the others poll; they will find the work
            for topic in sorted(topics):
                try:
                    async with self._using:
                        notify = f"{topic} {self._origin}"
                        await connection.execute("SELECT pg_notify($1, $2)", CHANNEL, notify, timeout=CHECK_SECONDS)
                except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError, TimeoutError) as exc:
                    log.warning("wake-ups: notify %s failed (%s)", topic, exc)
