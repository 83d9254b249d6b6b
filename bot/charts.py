"""Charts as PNG images, readable on a phone: matplotlib's Agg backend through its object API (no pyplot state,
so figures can be drawn in worker threads, off the event loop). One style for all: the same colours, fonts and
number formats.

`render` draws off the event loop and keeps the last pictures: the same data asked for again (a second /chart
while nothing moved) is the same picture, not another second of CPU.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import itertools
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from datetime import date
from decimal import Decimal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from ledger.flows import daily_pnl
from ledger.portfolio import Valuation

COLORS = ["#2f6fb0", "#e08a2c", "#3d9a5b", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c", "#ccb974"]
GAIN, LOSS, INK, MUTED = "#3d9a5b", "#c44e52", "#222222", "#666666"
DPI = 100
CACHED = 64
_pictures: OrderedDict[str, bytes] = OrderedDict()


async def render(draw: Callable[..., bytes], *data: object) -> bytes:
    """The picture `draw` makes of `data`, drawn in a worker thread (it takes CPU), or the one made before of the
    same data."""
    key = hashlib.sha256(f"{draw.__qualname__}{data!r}".encode()).hexdigest()
    picture = _pictures.get(key)
    if picture is None:
        picture = await asyncio.to_thread(draw, *data)
        _pictures[key] = picture
        if len(_pictures) > CACHED:
            _pictures.popitem(last=False)
    _pictures.move_to_end(key)
    return picture


def performance_chart(
    curve: Sequence[tuple[date, Decimal]], flows: Mapping[date, Decimal], valuation: Valuation
) -> bytes:
    """800 x 1200: the equity curve (deposits and withdrawals marked, falls from each high shaded), the daily P&L
    as bars (each day's change, money moved in or out taken out), and the allocation beside each position's
    unrealized P&L."""
    figure = _figure(8, 12)
    # Fixed margins rather than tight_layout, which draws the whole figure once more to measure it.
    grid = figure.add_gridspec(
        3, 2, height_ratios=[1.25, 0.8, 1.1], width_ratios=[1.1, 1],
        left=0.11, right=0.97, top=0.965, bottom=0.03, hspace=0.42, wspace=0.3,
    )  # fmt: skip
    equity = figure.add_subplot(grid[0, :])
    _equity(equity, curve)
    if len(curve) >= 2:
        _shade_drawdowns(equity, curve, _highs(curve, flows))
        _mark_flows(equity, curve, flows)
    _daily_pnl(figure.add_subplot(grid[1, :]), curve, flows)
    _allocation(figure.add_subplot(grid[2, 0]), valuation)
    _unrealized(figure.add_subplot(grid[2, 1]), valuation)
    return _png(figure)


def leader_chart(alias: str, units: Sequence[tuple[date, Decimal]]) -> bytes:
    """A leader's card picture: the growth of one dollar with them (deposits and withdrawals taken out), with
    the falls from each high shaded."""
    figure = _figure(8, 5)
    axes = figure.add_subplot()
    figure.subplots_adjust(left=0.1, right=0.97, top=0.91, bottom=0.14)
    growth = [(day, (value - 1) * 100) for day, value in units]
    _equity(axes, growth, title=f"{alias}: return since start (%)", empty="No track record yet.")
    if len(growth) >= 2:  # the units already leave deposits and withdrawals out: the running high will do
        _shade_drawdowns(axes, growth, list(itertools.accumulate((float(v) for _, v in growth), max)))
    return _png(figure)


def pnl_card(title: str, subtitle: str, pnl: Decimal, pct: Decimal | None, rows: Sequence[tuple[str, str]]) -> bytes:
    """800 x 450: a closed position's or a copy's result, to keep or share: the P&L large, in green or red, and
    the figures behind it."""
    figure = _figure(8, 4.5)
    axes = figure.add_axes((0, 0, 1, 1))
    axes.set_axis_off()
    colour = GAIN if pnl >= 0 else LOSS
    axes.add_patch(Rectangle((0, 0), 0.015, 1, color=colour, transform=axes.transAxes))
    axes.text(0.05, 0.86, title, fontsize=24, fontweight="bold", color=INK, transform=axes.transAxes, parse_math=False)
    axes.text(0.05, 0.76, subtitle, fontsize=13, color=MUTED, transform=axes.transAxes, parse_math=False)
    axes.axhline(0.68, xmin=0.05, xmax=0.95, color="#dddddd", linewidth=1)
    sign = "+" if pnl >= 0 else "-"
    axes.text(0.05, 0.42, f"{sign}${abs(pnl):,.2f}", fontsize=40, fontweight="bold", color=colour,
              transform=axes.transAxes)  # fmt: skip
    if pct is not None:
        axes.text(0.05, 0.28, f"{pct:+.2f}%", fontsize=22, color=colour, transform=axes.transAxes)
    for number, (label, value) in enumerate(rows[:5]):
        y = 0.56 - number * 0.105
        axes.text(0.58, y, label, fontsize=13, color=MUTED, transform=axes.transAxes, parse_math=False)
        axes.text(0.95, y, value, fontsize=13, color=INK, ha="right", transform=axes.transAxes, parse_math=False)
    axes.text(0.05, 0.08, "Omnibot", fontsize=12, color=MUTED, transform=axes.transAxes)
    return _png(figure)


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height), dpi=DPI)
    FigureCanvasAgg(figure)
    return figure


def _equity(
    axes: Axes,
    curve: Sequence[tuple[date, Decimal]],
    *,
    title: str = "Equity ($)",
    empty: str = "Your equity curve starts today:\nit grows a point each trading day.",
) -> None:
    axes.set_title(title, fontsize=14)
    if len(curve) < 2:
        axes.text(0.5, 0.5, empty, ha="center", va="center", fontsize=13, transform=axes.transAxes)
        axes.set_axis_off()
        return
    days, values = _xy(curve)
    axes.xaxis_date()
    axes.plot(days, values, color=COLORS[0], linewidth=2.2)
    axes.fill_between(days, values, min(values), color=COLORS[0], alpha=0.12)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:,.0f}"))
    _tidy(axes)


def _shade_drawdowns(axes: Axes, curve: Sequence[tuple[date, Decimal]], tops: Sequence[float]) -> None:
    """Shade each fall below the last high, up to `tops` (where the curve would be had it kept its high)."""
    days, values = _xy(curve)
    axes.fill_between(days, values, tops, color=LOSS, alpha=0.25, label="below its high")
    axes.legend(loc="best", fontsize=11, frameon=False)


def _highs(curve: Sequence[tuple[date, Decimal]], flows: Mapping[date, Decimal]) -> list[float]:
    """What each day's value would be had it kept its last high, on performance only: money moved in or out is
    neither a high nor a fall."""
    values = [float(value) for _, value in curve]
    growth, peak, tops = 1.0, 1.0, values[:1]
    for (_, pnl), before, value in zip(daily_pnl(curve, flows), values[:-1], values[1:], strict=True):
        growth *= 1 + float(pnl) / before if before > 0 else 1.0
        peak = max(peak, growth)
        tops.append(value * peak / growth if growth > 0 else value)
    return tops


def _mark_flows(axes: Axes, curve: Sequence[tuple[date, Decimal]], flows: Mapping[date, Decimal]) -> None:
    at = dict(curve)
    for sign, marker, colour, label in ((1, "^", GAIN, "deposit"), (-1, "v", LOSS, "withdrawal")):
        points = [(day, at[day]) for day, amount in flows.items() if day in at and amount * sign > 0]
        if points:
            days, values = _xy(points)
            axes.scatter(days, values, marker=marker, s=90, color=colour, zorder=3, label=label)
    axes.legend(loc="best", fontsize=11, frameon=False)


def _daily_pnl(axes: Axes, curve: Sequence[tuple[date, Decimal]], flows: Mapping[date, Decimal]) -> None:
    axes.set_title("Daily P&L ($)", fontsize=14)
    days = daily_pnl(curve, flows)
    if not days:
        axes.text(0.5, 0.5, "A bar a trading day, from tomorrow.", ha="center", va="center", fontsize=13,
                  transform=axes.transAxes)  # fmt: skip
        axes.set_axis_off()
        return
    x, y = _xy(days)
    axes.xaxis_date()
    # One line per day (a LineCollection) draws a year of bars many times faster than a patch per bar.
    axes.vlines(x, 0, y, colors=[GAIN if value >= 0 else LOSS for value in y], linewidth=2.4)
    axes.axhline(0, color="#444444", linewidth=0.8)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:,.0f}"))
    _tidy(axes)


def _allocation(donut: Axes, valuation: Valuation) -> None:
    labels = [v.holding.symbol for v in valuation.holdings]
    values = [float(v.value) for v in valuation.holdings]
    if valuation.book.cash > 0:
        labels.append("Cash")
        values.append(float(valuation.book.cash))
    if sum(values) > 0:
        donut.pie(
            values,
            labels=labels,
            colors=[COLORS[n % len(COLORS)] for n in range(len(values))],
            autopct=lambda pct: f"{pct:.0f}%" if pct >= 4 else "",
            startangle=90,
            pctdistance=0.79,  # on the ring
            counterclock=False,
            wedgeprops={"width": 0.42, "edgecolor": "white"},
            textprops={"fontsize": 12},
        )
    donut.set_title(f"Allocation\n${valuation.equity:,.0f}", fontsize=14)
    donut.axis("equal")


def _unrealized(bars: Axes, valuation: Valuation) -> None:
    pnl = [float(v.unrealized) for v in valuation.holdings]
    symbols = [v.holding.symbol for v in valuation.holdings]
    bars.barh(symbols, pnl, color=[GAIN if value >= 0 else LOSS for value in pnl])
    bars.axvline(0, color="#444444", linewidth=0.8)
    bars.set_title("Unrealized P&L ($)", fontsize=14)
    bars.invert_yaxis()
    _tidy(bars, dates=False)


def _xy(points: Sequence[tuple[date, Decimal]]) -> tuple[list[float], list[float]]:
    days = date2num([day for day, _ in points])  # type: ignore[no-untyped-call]  # matplotlib's own, untyped
    return list(days), [float(value) for _, value in points]


def _tidy(axes: Axes, *, dates: bool = True) -> None:
    axes.tick_params(labelsize=11)
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)
    if dates:  # a few short, level dates: readable on a phone, and rotated text is slow to draw
        axes.xaxis.set_major_locator(AutoDateLocator(minticks=3, maxticks=6))  # type: ignore[no-untyped-call]
        axes.xaxis.set_major_formatter(ConciseDateFormatter(axes.xaxis.get_major_locator()))  # type: ignore[no-untyped-call]


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", pil_kwargs={"compress_level": 1})  # a larger file, drawn much sooner
    return buffer.getvalue()
