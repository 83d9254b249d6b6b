"""The broker screen's messages a second: a rate over the last minute, started again on a new connection (whose
counts start from zero), nothing while disconnected."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from broker.events import Traffic
from broker.link_health import LinkHealth


class FakeIB:
    """What LinkHealth reads of ib_async's IB (the port): whether it is connected, and its running counts."""

    def __init__(self) -> None:
        self.sent, self.received, self.connected = 0, 0, True
        stats = lambda: SimpleNamespace(numMsgSent=self.sent, numMsgRecv=self.received)  # noqa: E731
        self.client = SimpleNamespace(connectionStats=stats)

    def isConnected(self) -> bool:
        return self.connected

    def talk(self, sent: int, received: int) -> None:
        self.sent += sent
        self.received += received


def health_of(ib: FakeIB) -> LinkHealth:
    port: Any = ib
    return LinkHealth(port, window_seconds=60)


def test_the_rate_is_over_the_last_minute() -> None:
    ib, at = FakeIB(), 0.0
    health = health_of(ib)
    for _ in range(12):  # a busy minute: 10 sent and 20 received a second
        health.sample(at)
        ib.talk(50, 100)
        at += 5
    assert health.traffic(at) == Traffic(10.0, 20.0)
    for _ in range(12):  # then a quiet one: 1 and 2 a second
        health.sample(at)
        ib.talk(5, 10)
        at += 5
    assert health.traffic(at) == Traffic(1.0, 2.0)


def test_a_new_connection_starts_again_and_a_closed_one_shows_nothing() -> None:
    ib = FakeIB()
    health = health_of(ib)
    ib.talk(500, 900)
    health.sample(0.0)
    ib.sent, ib.received = 10, 20  # reconnected: ib_async counts from zero
    health.sample(5.0)
    ib.talk(50, 100)
    assert health.traffic(10.0) == Traffic(10.0, 20.0)  # not (60 - 500) / 10
    ib.connected = False
    assert health.traffic(15.0) == Traffic(0.0, 0.0)
    assert health_of(FakeIB()).traffic(0.0) == Traffic(0.0, 0.0)  # one sample is no rate
