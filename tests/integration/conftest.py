"""The IB Gateway simulator started in process on a free port, and the unmodified ib_async client connected to it
over loopback. The simulator's market moves only when a test steps it or sets a price, so every test is exact."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from ib_async import IB

from broker.sim.gateway import GatewaySimulator
from tests.botchat import bot_desk, trading_bot  # noqa: F401 (fixtures, for every integration test)
from tests.integration.processes import processes  # noqa: F401
from tests.integration.trading_desk import desk  # noqa: F401
from tests.support import connect


@pytest.fixture
async def simulator() -> AsyncIterator[GatewaySimulator]:
    sim = GatewaySimulator(account="DU7654321", auto_step=False, seed=7)
    await sim.start("127.0.0.1", 0)
    yield sim
    await sim.stop()


@pytest.fixture
async def ib(simulator: GatewaySimulator) -> AsyncIterator[IB]:
    client = await connect(simulator.port, 1)
    yield client
    client.disconnect()
