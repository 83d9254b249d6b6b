"""The charts: each is a PNG of the size a phone shows well, drawn for the edge cases too (no history yet, a
single day, losses only), and the same data gives the same picture from the cache."""

from __future__ import annotations

import struct
from datetime import date, timedelta
from decimal import Decimal

from bot import charts
from ledger.flows import daily_pnl
from ledger.portfolio import Book, Holding, Mark, valuation

DAY = date(2026, 6, 1)


def size(png: bytes) -> tuple[int, int]:
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    return width, height


def curve(days: int, start: str = "10000") -> list[tuple[date, Decimal]]:
    return [(DAY + timedelta(days=n), Decimal(start) + Decimal(37 * ((n * 7) % 11) - 150)) for n in range(days)]


VALUED = valuation(
    Book(
        Decimal(2500), Decimal(0), Decimal(0), (Holding(1, "AAPL", Decimal(10), Decimal(1800), Decimal(0)),), Decimal(0)
    ),
    {1: Mark(Decimal(190), Decimal(188))},
)


def test_the_performance_chart_is_800_by_1200_with_or_without_history() -> None:
    flows = {DAY + timedelta(days=5): Decimal(2000), DAY + timedelta(days=20): Decimal(-500)}
    assert size(charts.performance_chart(curve(60), flows, VALUED)) == (800, 1200)
    assert size(charts.performance_chart(curve(1), {}, VALUED)) == (800, 1200)
    empty = valuation(Book(Decimal(0), Decimal(0), Decimal(0), (), Decimal(0)), {})
    assert size(charts.performance_chart([], {}, empty)) == (800, 1200)


def test_the_leader_chart_and_the_pnl_card() -> None:
    units = [(day, value / Decimal(10000)) for day, value in curve(30)]
    assert size(charts.leader_chart("ada", units)) == (800, 500)
    card = charts.pnl_card("AAPL closed", "Bought 2026-06-01", Decimal("-12.50"), None, [("Shares", "10")])
    assert size(card) == (800, 450)


def test_daily_pnl_takes_out_the_money_moved() -> None:
    points = [(DAY, Decimal(1000)), (DAY + timedelta(days=1), Decimal(1600)), (DAY + timedelta(days=2), Decimal(1550))]
    assert daily_pnl(points, {DAY + timedelta(days=1): Decimal(500)}) == [
        (DAY + timedelta(days=1), Decimal(100)),
        (DAY + timedelta(days=2), Decimal(-50)),
    ]


async def test_the_same_data_is_drawn_once() -> None:
    drawn: list[int] = []

    def draw(value: int) -> bytes:
        drawn.append(value)
        return bytes([value])

    assert [await charts.render(draw, 1), await charts.render(draw, 1), await charts.render(draw, 2)] == [
        b"\x01",
        b"\x01",
        b"\x02",
    ]
    assert drawn == [1, 2]
