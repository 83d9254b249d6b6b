"""Charts as PNG images, readable on a phone: matplotlib's Agg backend through its object API (no pyplot state,
so figures can be drawn in worker threads, off the event loop). One style for all."""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import date
from decimal import Decimal

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.dates import date2num
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ledger.portfolio import Valuation

SIZE = (8, 10)  # inches, at 100 dpi: 800 x 1000, sharp on a phone held upright
COLORS = ["#2f6fb0", "#e08a2c", "#3d9a5b", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c", "#ccb974"]
GAIN, LOSS = "#3d9a5b", "#c44e52"


def portfolio_chart(valuation: Valuation, curve: Sequence[tuple[date, Decimal]]) -> bytes:
    """The equity curve above; below, the allocation (cash and each position, at market) as a donut beside each
    position's unrealized P&L."""
    figure = Figure(figsize=SIZE, dpi=100)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(2, 2, height_ratios=[1, 1.1], width_ratios=[1.1, 1])
    _equity(figure.add_subplot(grid[0, :]), curve)
    donut, bars = figure.add_subplot(grid[1, 0]), figure.add_subplot(grid[1, 1])
    labels = [v.holding.symbol for v in valuation.holdings]
    values = [float(v.value) for v in valuation.holdings]
    if valuation.book.cash > 0:
        labels.append("Cash")
        values.append(float(valuation.book.cash))
    if sum(values) > 0:
        donut.pie(
            values,
            labels=labels,
            colors=COLORS[: len(values)],
            autopct=lambda pct: f"{pct:.0f}%" if pct >= 4 else "",
            startangle=90,
            pctdistance=0.79,  # on the ring
            counterclock=False,
            wedgeprops={"width": 0.42, "edgecolor": "white"},
            textprops={"fontsize": 12},
        )
    donut.set_title(f"Allocation\n${valuation.equity:,.0f}", fontsize=14)
    donut.axis("equal")

    pnl = [float(v.unrealized) for v in valuation.holdings]
    symbols = [v.holding.symbol for v in valuation.holdings]
    bars.barh(symbols, pnl, color=[GAIN if value >= 0 else LOSS for value in pnl])
    bars.axvline(0, color="#444444", linewidth=0.8)
    bars.set_title("Unrealized P&L ($)", fontsize=14)
    bars.tick_params(labelsize=12)
    bars.invert_yaxis()
    for side in ("top", "right"):
        bars.spines[side].set_visible(False)
    figure.tight_layout()
    return _png(figure)


def leader_chart(alias: str, units: Sequence[tuple[date, Decimal]]) -> bytes:
    """A leader's card picture: the growth of one dollar with them (deposits and withdrawals taken out), with
    the falls from each high shaded."""
    figure = Figure(figsize=(8, 5), dpi=100)
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    growth = [(day, (value - 1) * 100) for day, value in units]
    _equity(axes, growth, title=f"{alias}: return since start (%)", empty="No track record yet.")
    if len(growth) >= 2:
        days = date2num([day for day, _ in growth])  # type: ignore[no-untyped-call]  # matplotlib's own, untyped
        values = [float(value) for _, value in growth]
        peaks = [max(values[: index + 1]) for index in range(len(values))]
        axes.fill_between(days, values, peaks, color=LOSS, alpha=0.25, label="drawdown")
        axes.legend(loc="upper left", fontsize=11, frameon=False)
    figure.tight_layout()
    return _png(figure)


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
    days = date2num([day for day, _ in curve])  # type: ignore[no-untyped-call]  # matplotlib's own, untyped
    values = [float(value) for _, value in curve]
    axes.xaxis_date()
    axes.plot(days, values, color=COLORS[0], linewidth=2.2)
    axes.fill_between(days, values, min(values), color=COLORS[0], alpha=0.12)
    axes.tick_params(labelsize=11)
    axes.yaxis.set_major_formatter(FuncFormatter(lambda value, _position: f"{value:,.0f}"))
    figure = axes.get_figure()
    if figure is not None:
        figure.autofmt_xdate()
    for side in ("top", "right"):
        axes.spines[side].set_visible(False)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
