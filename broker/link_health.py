"""How busy and how quick the IB connection is, for the admins' broker screen.

Messages a second, each way, over the last minute: ib_async keeps running counts per connection, sampled here every
few seconds (a count that falls means a new connection, and the window starts again). Latency: the round trip of
IB's clock request, asked when an admin looks, so it measures the gateway and the network now rather than a
remembered figure. Both use the machine's monotonic clock: they measure real time even under a simulated clock.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from ib_async import IB

from .events import Traffic


class LinkHealth:
    def __init__(self, ib: IB, *, window_seconds: float = 60.0, every_seconds: float = 5.0) -> None:
        self._ib, self._window, self._every = ib, window_seconds, every_seconds
        self._samples: deque[tuple[float, int, int]] = deque()  # (monotonic time, sent, received)

    def sample(self, at: float | None = None) -> None:
        """Note the running counts now (`at`: a monotonic time, for tests)."""
        if not self._ib.isConnected():
            self._samples.clear()  # the next connection counts from zero
            return
        stats = self._ib.client.connectionStats()
        now = time.monotonic() if at is None else at
        if self._samples and stats.numMsgSent < self._samples[-1][1]:
            self._samples.clear()
        self._samples.append((now, stats.numMsgSent, stats.numMsgRecv))
        # Keep one sample at least a window old, so the rate spans the whole last minute once there is one.
        while len(self._samples) > 2 and now - self._samples[1][0] >= self._window:
            self._samples.popleft()

    def traffic(self, at: float | None = None) -> Traffic:
        """Messages a second each way, from the oldest sample kept to now; nothing while disconnected."""
        self.sample(at)
        if len(self._samples) < 2:
            return Traffic(0.0, 0.0)
        (start, sent0, received0), (end, sent1, received1) = self._samples[0], self._samples[-1]
        span = max(end - start, 1e-9)
        return Traffic((sent1 - sent0) / span, (received1 - received0) / span)

    async def round_trip_ms(self, within: float = 2.0) -> float | None:
        """Milliseconds for IB to answer a clock request now; None when not connected or not answered in time."""
        if not self._ib.isConnected():
            return None
        started = time.perf_counter()
        try:
            await asyncio.wait_for(self._ib.reqCurrentTimeAsync(), within)
        except TimeoutError:
            return None
        return (time.perf_counter() - started) * 1000

    async def run(self) -> None:
        while True:
            self.sample()
            await asyncio.sleep(self._every)
