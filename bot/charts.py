"""Charts as PNG images, readable on a phone: matplotlib's Agg backend through its object API (no pyplot state,
so figures can be drawn in worker threads, off the event loop). One style for all."""

from __future__ import annotations

import io

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ledger.portfolio import Valuation

SIZE = (8, 6)  # inches, at 100 dpi: 800 x 600, sharp on a phone
COLORS = ["#2f6fb0", "#e08a2c", "#3d9a5b", "#c44e52", "#8172b2", "#937860", "#da8bc3", "#8c8c8c", "#ccb974"]
GAIN, LOSS = "#3d9a5b", "#c44e52"


def portfolio_chart(valuation: Valuation) -> bytes:
    """Allocation (cash and each position, at market) as a donut, beside each position's unrealized P&L."""
    figure = Figure(figsize=SIZE, dpi=100)
    FigureCanvasAgg(figure)
    donut, bars = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
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


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
