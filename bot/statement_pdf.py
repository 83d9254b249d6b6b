"""The monthly statement as a PDF: A4 pages of monospaced text drawn with matplotlib's PDF backend (no other
library), with TrueType fonts embedded so the text can be searched and copied, as a bank statement can."""

from __future__ import annotations

import io
from decimal import Decimal

from matplotlib import rc_context
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure

from reports.statement import MonthlyStatement

A4 = (8.27, 11.69)
ROWS = 58  # lines of text a page
WIDTH = 96  # characters a line


def statement_pdf(statement: MonthlyStatement, holder: str, account: str) -> bytes:
    lines = statement_lines(statement, holder, account)
    pages = [lines[start : start + ROWS] for start in range(0, len(lines), ROWS)] or [[]]
    buffer = io.BytesIO()
    title = f"Omnibot statement {statement.month:%Y-%m}"
    with rc_context({"pdf.fonttype": 42}), PdfPages(buffer, metadata={"Title": title, "Creator": "Omnibot"}) as pdf:
        for number, page in enumerate(pages, 1):
            figure = Figure(figsize=A4)
            for row, line in enumerate(page):
                # parse_math=False: two "$" on a line would otherwise be typeset as a formula.
                figure.text(0.06, 0.955 - row * 0.0158, line, family="monospace", fontsize=8.3, parse_math=False)
            figure.text(0.94, 0.02, f"page {number} of {len(pages)}", ha="right", family="monospace", fontsize=8)
            pdf.savefig(figure)
    return buffer.getvalue()


def statement_lines(statement: MonthlyStatement, holder: str, account: str) -> list[str]:
    """The statement as lines of text (the PDF's, and what a test reads back)."""
    month = statement.month
    lines = [
        "OMNIBOT - MONTHLY STATEMENT",
        "",
        f"Account holder: {holder}",
        f"Account: {account}",
        f"Period: {month:%B %Y} (New York time)",
        "",
        f"Cash at the start of the month {_money(statement.opening_cash):>20}",
        f"Cash at the end of the month   {_money(statement.closing_cash):>20}",
        "",
        "Money in and out, by kind",
    ]
    lines += [f"  {kind.replace('_', ' '):<28} {_signed(amount):>20}" for kind, amount in statement.by_kind] or [
        "  none"
    ]
    lines += ["", "Movements", f"{'Date (UTC)':<17}{'Kind':<14}{'Description':<29}{'Cash':>17}{'Cash after':>17}"]
    for movement in statement.movements:
        lines.append(
            f"{movement.at:%Y-%m-%d %H:%M}  {movement.kind.replace('_', ' ')[:13]:<14}{movement.memo[:28]:<29}"
            f"{_signed(movement.cash):>17}{_money(movement.cash_after):>17}"
        )
        for symbol, change in movement.shares:
            lines.append(f"{'':<31}{symbol} {_shares(change, signed=True)} shares")
    if not statement.movements:
        lines.append("  no movement this month")
    lines += ["", "Shares held at the end of the month"]
    lines += [f"  {symbol:<10} {_shares(quantity):>12}" for symbol, quantity in statement.closing_shares] or ["  none"]
    lines += ["", "Your copies of leaders keep books of their own: /following shows them."]
    return [line[:WIDTH] for line in lines]


def _money(amount: Decimal) -> str:
    sign = "-" if amount < 0 else ""
    return f"{sign}${abs(amount):,.2f}"


def _signed(amount: Decimal) -> str:
    return ("+" if amount > 0 else "") + _money(amount)


def _shares(quantity: Decimal, *, signed: bool = False) -> str:
    text = f"{quantity.normalize():,f}"
    return f"+{text}" if signed and quantity > 0 else text
