"""The price watch and the charts, printed as JSON lines (DESIGN.md section 9).

    python -m bench.alerts [--alerts 10000] [--instruments 100] [--ticks 300]

- A tick of every instrument (each gets a new price, as IB's streams deliver them) evaluated against 10,000
  active alerts (above, below, moves; a tenth repeating) in the engine: the time for the whole tick, p50 and
  p99 (goal p50 <= 10 ms). Prices walk at random, so alerts fire and repeating ones re-arm along the way.
- Each chart the bot sends, rendered off the event loop as the bot does it: p50 of the render time (goal
  <= 150 ms).
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from alerts.engine import AlertEngine
from alerts.rules import Condition, PriceAlert
from bench.lines import Lines
from bot import charts
from ledger.money import ZERO
from ledger.portfolio import Book, Holding, Mark, valuation

GOALS = {"tick_100_instruments_10k_alerts_p50_ms": 10.0, "chart_render_p50_ms": 150.0}
emit = Lines("alerts", GOALS)
CENT = Decimal("0.01")


def alerts(count: int, instruments: int, rng: random.Random, prices: dict[int, Decimal]) -> list[PriceAlert]:
    made = []
    for _ in range(count):
        con_id = rng.randrange(instruments)
        price = prices[con_id]
        condition = rng.choice((Condition.ABOVE, Condition.BELOW, Condition.MOVE))
        if condition is Condition.MOVE:
            level, reference = Decimal(rng.choice((2, 5, 10))), price
        else:
            away = Decimal(1 + rng.random() * 0.2) if condition is Condition.ABOVE else Decimal(1 - rng.random() * 0.2)
            level, reference = (price * away).quantize(CENT), None
        made.append(
            PriceAlert(
                id=uuid.UUID(int=rng.getrandbits(128)), owner_id=uuid.UUID(int=rng.getrandbits(128)), con_id=con_id,
                symbol=f"S{con_id}", condition=condition, level=level, reference=reference,
                repeat=rng.random() < 0.1, cooldown=timedelta(minutes=30),
            )
        )  # fmt: skip
    return made


def bench_ticks(count: int, instruments: int, ticks: int) -> None:
    rng = random.Random(11)
    prices = {con_id: Decimal(rng.randint(20, 500)) for con_id in range(instruments)}
    engine = AlertEngine()
    for alert in alerts(count, instruments, rng, prices):
        engine.watch(alert)
    now, timings, fired = datetime(2026, 11, 2, 14, 30, tzinfo=UTC), [], 0
    for _ in range(ticks):
        moves = {con_id: (price * Decimal(1 + rng.gauss(0, 0.004))).quantize(CENT) for con_id, price in prices.items()}
        started = time.perf_counter()
        for con_id, price in moves.items():
            fired += len(engine.tick(con_id, price, now).fired)
        timings.append((time.perf_counter() - started) * 1000)
        prices, now = moves, now + timedelta(seconds=1)
    timings.sort()
    extra = {"alerts": count, "instruments": instruments, "ticks": ticks, "fired": fired, "still_active": len(engine)}
    emit("tick_100_instruments_10k_alerts_p50_ms", round(statistics.median(timings), 3), "ms", "lower", **extra)
    emit("tick_100_instruments_10k_alerts_p99_ms", round(timings[int(len(timings) * 0.99)], 3), "ms", "lower")


def bench_charts(rounds: int) -> None:
    """Each chart drawn `rounds` times on a year of daily points and five positions (the draw itself: the
    cache would hand back the first picture)."""
    rng = random.Random(5)
    start = date(2025, 11, 3)
    curve, value, flows = [], Decimal(25_000), {}
    for n in range(252):
        value = (value * Decimal(1 + rng.gauss(0.0004, 0.011))).quantize(CENT)
        day = start + timedelta(days=n * 365 // 252)
        if n % 60 == 30:
            flows[day] = Decimal(2000)
            value += 2000
        curve.append((day, value))
    held = tuple(
        Holding(n, symbol, Decimal(10 + n), Decimal(1500 * (n + 1)), ZERO)
        for n, symbol in enumerate(("AAPL", "MSFT", "NVDA", "SPY", "AMZN"))
    )
    valued = valuation(
        Book(Decimal(4000), ZERO, ZERO, held, ZERO), {n: Mark(Decimal(180 + 20 * n), None) for n in range(5)}
    )
    units = [(day, amount / Decimal(25_000)) for day, amount in curve]
    draws = {
        "performance": lambda: charts.performance_chart(curve, flows, valued),
        "leader": lambda: charts.leader_chart("ada", units),
        "pnl_card": lambda: charts.pnl_card("AAPL closed", "Bought 2026-03-02", Decimal("412.5"), Decimal(8), []),
    }
    every: list[float] = []
    for name, draw in draws.items():
        timings = []
        for _ in range(rounds):
            started = time.perf_counter()
            draw()
            timings.append((time.perf_counter() - started) * 1000)
        every += timings
        emit(f"chart_{name}_p50_ms", round(statistics.median(timings), 1), "ms", "lower")
    emit("chart_render_p50_ms", round(statistics.median(every), 1), "ms", "lower", charts=len(draws), rounds=rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--alerts", type=int, default=10_000)
    parser.add_argument("--instruments", type=int, default=100)
    parser.add_argument("--ticks", type=int, default=300)
    parser.add_argument("--chart-rounds", type=int, default=15)
    args = parser.parse_args()
    bench_ticks(args.alerts, args.instruments, args.ticks)
    bench_charts(args.chart_rounds)


if __name__ == "__main__":
    main()
