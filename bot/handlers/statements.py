"""/statement and /export: an investor's monthly statement as a PDF, and their transactions as a CSV file, sent
as documents. Both come from the ledger (reports/statement.py); the PDF is drawn off the event loop."""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, date, datetime

from telegram import Update

from core import user_service
from core.calendar import NEW_YORK
from core.db import UnitOfWork
from core.errors import InvalidCommand
from core.users import UserRecord
from reports.statement import MonthlyStatement, month_bounds, monthly_statement, transactions_csv

from ..context import BotContext
from ..statement_pdf import statement_pdf

STATEMENT_USAGE = "/statement [YYYY-MM] (last month when not named)"
EXPORT_USAGE = "/export [YYYY | YYYY-MM | all]"
MONTH = re.compile(r"(\d{4})-(\d{2})")
YEAR = re.compile(r"\d{4}")


async def statement(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Your monthly statement as a PDF: /statement 2026-10, or /statement for last month."""
    assert user is not None
    services = context.services
    today = services.clock.now().astimezone(NEW_YORK).date()
    month = _month(context.args or [], today)
    if month > today:
        raise InvalidCommand("that month has not begun", STATEMENT_USAGE)
    cipher = services.cipher

    async def read(uow: UnitOfWork) -> tuple[MonthlyStatement, str]:
        person = await user_service.read_personal_data(uow, cipher, user.id)
        return await monthly_statement(uow, user.id, month), person.full_name or f"Telegram {user.telegram_id}"

    figures, holder = await services.db.transact(read, readonly=True)
    document = await asyncio.to_thread(statement_pdf, figures, holder, str(user.id))
    caption = f"Your statement for {month:%B %Y}."
    await context.bot.send_document(
        user.telegram_id, document, filename=f"omnibot-statement-{month:%Y-%m}.pdf", caption=caption
    )


async def export(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Your transactions as a CSV file: /export 2026, /export 2026-10, or /export all."""
    assert user is not None
    services = context.services
    words = [word.lower() for word in context.args or []] or ["all"]
    if words == ["all"]:
        start, end, name = datetime(2000, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC), "all"
    elif len(words) == 1 and YEAR.fullmatch(words[0]) and 1970 <= int(words[0]) <= 9998:
        year = int(words[0])
        start, end = month_bounds(date(year, 1, 1))[0], month_bounds(date(year, 12, 1))[1]
        name = words[0]
    elif len(words) == 1 and (found := MONTH.fullmatch(words[0])) and _plausible(found):
        start, end = month_bounds(date(int(found[1]), int(found[2]), 1))
        name = words[0]
    else:
        raise InvalidCommand("name a year, a month or all", EXPORT_USAGE)
    text = await services.db.transact(lambda uow: transactions_csv(uow, user.id, start, end), readonly=True)
    await context.bot.send_document(
        user.telegram_id, text.encode(), filename=f"omnibot-transactions-{name}.csv",
        caption=f"Your transactions ({name}): {text.count(chr(10)) - 1} rows.",
    )  # fmt: skip


def _month(words: list[str], today: date) -> date:
    if not words:
        return date(today.year - (today.month == 1), (today.month - 2) % 12 + 1, 1)
    found = MONTH.fullmatch(words[0]) if len(words) == 1 else None
    if found is None or not _plausible(found):
        raise InvalidCommand("name the month as YYYY-MM", STATEMENT_USAGE)
    return date(int(found[1]), int(found[2]), 1)


def _plausible(month: re.Match[str]) -> bool:
    return 1970 <= int(month[1]) <= 9998 and 1 <= int(month[2]) <= 12
