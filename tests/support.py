"""Small helpers for tests: people and instruments to trade with, and the books' integrity."""

from __future__ import annotations

import itertools
from decimal import Decimal
from uuid import UUID

from core import user_service
from core.db import Database
from ledger import service
from ledger.accounts import AccountKind, Asset
from ledger.instruments import InstrumentRecord, save_instrument
from ledger.integrity import check_books

_telegram_ids = itertools.count(100_000)
AAPL = InstrumentRecord(265598, "AAPL", primary_exchange="NASDAQ", description="APPLE INC")
SPY = InstrumentRecord(756733, "SPY", primary_exchange="ARCA", description="SPDR S&P 500 ETF TRUST")


async def new_investor(db: Database) -> UUID:
    return (await db.transact(lambda uow: user_service.register(uow, next(_telegram_ids)))).id


async def add_instruments(db: Database, *instruments: InstrumentRecord) -> None:
    async def save(uow: object) -> None:
        for instrument in instruments:
            await save_instrument(uow, instrument)  # type: ignore[arg-type]

    await db.transact(save)  # type: ignore[arg-type]


async def balance(db: Database, kind: AccountKind, asset: Asset, owner: UUID | None = None) -> Decimal:
    account = await db.transact(lambda uow: service.open_account(uow, kind, asset, owner))
    return account.balance


async def assert_books_whole(db: Database) -> None:
    problems = await db.transact(check_books, readonly=True)
    assert problems == []
