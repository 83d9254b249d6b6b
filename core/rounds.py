"""A background task that works in rounds: one round at once when woken, otherwise every so many seconds, until
stopped. A round that fails is logged and the next one goes on: the services behind it (the broker, a
provider, the database) have bad moments, and what a round does is in the database, so nothing is lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from core.leases import Lease

log = logging.getLogger("omnibot")


class Rounds:
    def __init__(self, name: str, work: Callable[[], Awaitable[object]], every: float) -> None:
        self._name, self._work, self._every = name, work, every
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._lease: Lease | None = None

    def wake(self) -> None:
        """Run a round now (or as soon as the one running is done)."""
        self._wakeup.set()

    def start(self, lease: Lease | None = None) -> None:
        """Run rounds until stopped; with a lease, only the rounds of the process that holds it do the work
        (a job several worker processes share, core/leases.py)."""
        self._lease = lease
        self._task = asyncio.create_task(self._run(), name=self._name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            self._wakeup.clear()
            try:
                if self._lease is None:
                    await self._work()
                else:
                    await self._lease.run(self._work)
            except Exception:  # the loop must outlive a bad moment; the next round tries again
                log.exception("%s: a round failed; trying again", self._name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=self._every)
