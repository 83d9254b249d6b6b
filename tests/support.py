"""Small helpers for tests: people and instruments to trade with, the books' integrity, an IB client."""

from __future__ import annotations

import asyncio
import inspect
import itertools
from collections.abc import Callable
from decimal import Decimal
from uuid import UUID

from ib_async import IB

from core import user_service
from core.db import Database
from ledger import service
from ledger.accounts import AccountKind, Asset
from ledger.instruments import InstrumentRecord, save_instrument
from ledger.integrity import check_books

_telegram_ids = itertools.count(100_000)
AAPL = InstrumentRecord(265598, "AAPL", primary_exchange="NASDAQ", description="APPLE INC")
SPY = InstrumentRecord(756733, "SPY", primary_exchange="ARCA", description="SPDR S&P 500 ETF TRUST")


async def connect(port: int, client_id: int, patience: float = 5) -> IB:
    """The unmodified ib_async client, connected over loopback."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", port, clientId=client_id, timeout=patience)
    return ib


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


async def eventually(condition: Callable[[], object], within: float = 5, what: str = "the condition") -> None:
    """Wait until `condition()` (a function, or a coroutine function) is true (events travel over a real
    socket), or fail saying what never happened."""
    deadline = asyncio.get_running_loop().time() + within
    while not await _value(condition()):
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} did not happen within {within} s")
        await asyncio.sleep(0.01)


async def _value(result: object) -> object:
    return await result if inspect.isawaitable(result) else result
