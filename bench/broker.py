"""The IB connection's speed against the simulator, printed as JSON lines (DESIGN.md section 9).

    python -m bench.broker [--orders 200] [--burst 225]

- order round trip, placeOrder until the waiting code resumes with the fill, p50 and p99: through our adapter
  (broker.connection, to its OrderFilled, which carries the commission) and through bare ib_async, in the same run
  against the same simulator, measurements interleaved. Bare ib_async is timed to its fill event and to its
  commission report (the same information as our OrderFilled); the goal, the adapter adds <= 20 % at p50, is
  measured against the latter, and the overhead over the bare fill event is printed too;
- messages per second sustained by a burst of orders through the adapter, and the pacing errors (100) the
  simulator returned (goal 0): the adapter keeps to 45 a second, under IB's 50.

The simulator runs as its own process (`omnibot ibsim`), as in the demo, on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import subprocess
import sys
import time
from decimal import Decimal

from ib_async import IB, MarketOrder, Stock

from bench.lines import Lines
from broker.connection import IBConnection
from broker.events import BrokerEvent, OrderAcknowledged, OrderFilled, OrderTicket
from core.clock import SystemClock
from core.config import Settings

AAPL = 265598
PAUSE = 0.05  # before every round trip: neither client's throttle is what we time
GOALS = {"adapter_overhead_p50_pct": 20, "pacing_errors": 0}


emit = Lines("broker", GOALS)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(samples: list[float], share: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


class Waiter:
    """Futures for the adapter's events, by order_ref."""

    def __init__(self) -> None:
        self.filled: dict[str, asyncio.Future[None]] = {}
        self.acknowledged = 0
        self.acknowledgements = asyncio.Event()

    async def __call__(self, event: BrokerEvent) -> None:
        if isinstance(event, OrderFilled) and (future := self.filled.pop(event.order_ref, None)):
            future.set_result(None)
        elif isinstance(event, OrderAcknowledged):
            self.acknowledged += 1
            self.acknowledgements.set()


async def round_trips(connection: IBConnection, waiter: Waiter, bare: IB, orders: int) -> dict[str, list[float]]:
    """Each round trip starts from the same idle state (a pause before it) and the two paths take turns going
    first, so neither is timed on the other's heels, with the simulator still warm."""
    contract = (await bare.qualifyContractsAsync(Stock(conId=AAPL, exchange="SMART", currency="USD")))[0]
    loop = asyncio.get_running_loop()
    samples: dict[str, list[float]] = {"adapter": [], "bare": [], "bare_with_commission": []}

    async def through_adapter(n: int, side: str) -> dict[str, float]:
        future: asyncio.Future[None] = loop.create_future()
        waiter.filled[f"rt-{n}"] = future
        started = time.perf_counter()
        await connection.place(OrderTicket(f"rt-{n}", AAPL, side, Decimal(1)))
        await future
        return {"adapter": time.perf_counter() - started}

    async def through_bare_ib_async(_n: int, side: str) -> dict[str, float]:
        fill_seen: asyncio.Future[None] = loop.create_future()
        commission_seen: asyncio.Future[None] = loop.create_future()
        started = time.perf_counter()
        trade = bare.placeOrder(contract, MarketOrder(side, 1))
        trade.fillEvent += lambda *_: fill_seen.done() or fill_seen.set_result(None)
        trade.commissionReportEvent += lambda *_: commission_seen.done() or commission_seen.set_result(None)
        await fill_seen
        filled = time.perf_counter() - started
        await commission_seen
        return {"bare": filled, "bare_with_commission": time.perf_counter() - started}

    for n in range(orders + 20):  # the first 20 warm both paths up
        side = "BUY" if n % 2 == 0 else "SELL"
        paths = (through_adapter, through_bare_ib_async) if n % 2 == 0 else (through_bare_ib_async, through_adapter)
        for path in paths:
            await asyncio.sleep(PAUSE)
            timings = await path(n, side)
            if n >= 20:
                for name, seconds in timings.items():
                    samples[name].append(seconds * 1000)
    return samples


async def burst(connection: IBConnection, waiter: Waiter, orders: int) -> tuple[float, int]:
    """Orders as fast as the adapter lets them out; messages a second and pacing errors seen."""
    errors: list[int] = []
    connection.ib.errorEvent += lambda _req, code, *_rest: errors.append(code)
    start_acks, started = waiter.acknowledged, time.perf_counter()
    for n in range(orders):
        await connection.place(OrderTicket(f"burst-{n}", AAPL, "BUY", Decimal(1), Decimal("1.00"), "GTC"))
    while waiter.acknowledged - start_acks < orders:
        waiter.acknowledgements.clear()
        await waiter.acknowledgements.wait()
    elapsed = time.perf_counter() - started
    connection.ib.reqGlobalCancel()
    return orders / elapsed, errors.count(100)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--burst", type=int, default=225)
    args = parser.parse_args()
    port = free_port()
    simulator = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "omnibot.cli", "ibsim", "--port", str(port), "--cash", "100000000"),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        connection = IBConnection(Settings(ib_port=port, ib_client_id=1, ib_reconnect_min_seconds=0.1), SystemClock())
        waiter = Waiter()
        connection.subscribe(waiter)
        await connection.start()
        await connection.wait_ready(within=30)
        bare = IB()
        await bare.connectAsync("127.0.0.1", port, clientId=2, timeout=10)
        samples = await round_trips(connection, waiter, bare, args.orders)
        for path, values in samples.items():
            emit(f"round_trip_p50.{path}", round(statistics.median(values), 3), "ms", "lower", orders=args.orders)
            emit(f"round_trip_p99.{path}", round(percentile(values, 0.99), 3), "ms", "lower", orders=args.orders)
        adapter = statistics.median(samples["adapter"])
        for baseline, metric in (
            ("bare_with_commission", "adapter_overhead_p50_pct"),
            ("bare", "adapter_overhead_p50_pct.over_bare_fill_event"),
        ):
            overhead = 100 * (adapter / statistics.median(samples[baseline]) - 1)
            emit(metric, round(overhead, 1), "%", "lower")
        rate, pacing_errors = await burst(connection, waiter, args.burst)
        emit("messages_per_s_sustained", round(rate, 1), "msg/s", "higher", orders=args.burst, limit=45)
        emit("pacing_errors", pacing_errors, "errors", "lower")
        bare.disconnect()
        await connection.stop()
    finally:
        simulator.terminate()
        await simulator.wait()


if __name__ == "__main__":
    asyncio.run(main())
