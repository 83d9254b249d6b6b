"""IB's corrections of executions (`.02` after `.01`, at another price), known by what is booked rather than by
what this process heard: after a restart IB lists only the latest revision, and booking it as an execution of its
own would fill the block twice. The broker's cash follows IB, the investors keep the price they were told, the
house error account takes the difference (ledger/block_trades.py), and the admins hear of it."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select

from core.db import UnitOfWork
from core.outbox import Message, publish
from ledger.block_trades import book_price_correction
from ledger.money import ZERO
from ledger.trades import TradeSide

from . import order_store as store
from .events import OrderFilled
from .order_states import OrderSide
from .order_store import EXECUTIONS, BlockRecord


async def booked_as_revision(uow: UnitOfWork, block: BlockRecord, fill: OrderFilled) -> bool:
    """Whether the execution is a revision of one booked: then it is booked here as a correction, or dropped
    when it is older than the one booked; False for an execution of its own."""
    revisions = await revisions_booked(uow, block, fill.exec_id)
    if not revisions:
        return False
    latest = max(revisions, key=lambda exec_id: revision_of(exec_id)[1])
    if revision_of(latest)[1] > revision_of(fill.exec_id)[1]:
        return True  # an older revision than the one booked
    side = TradeSide.BUY if block.side is OrderSide.BUY else TradeSide.SELL
    key = f"correction/{fill.exec_id}"
    await book_price_correction(uow, key, side, block.con_id, fill.quantity, revisions[latest], fill.price)
    await store.insert_execution(uow, block.id, fill, to_house=ZERO)
    facts = {"block_id": str(block.id), "exec_id": fill.exec_id, "replaces": latest}
    await publish(
        uow, [Message("broker.correction", key, facts | {"quantity": str(fill.quantity), "price": str(fill.price)})]
    )
    return True


def revision_of(exec_id: str) -> tuple[str, int]:
    """IB's execution id as (the execution, its revision): `0000e0d5.6554f6a1.01.02` is the `.01`'s correction."""
    base, _, revision = exec_id.rpartition(".")
    return (base, int(revision)) if base and revision.isdigit() else (exec_id, 0)


async def revisions_booked(uow: UnitOfWork, block: BlockRecord, exec_id: str) -> dict[str, Decimal]:
    """The revisions of this execution booked already (by exec id), with their prices. Every fill asks: the
    block's own executions are read by its index, then matched by prefix (never a scan of all executions)."""
    base, _revision = revision_of(exec_id)
    query = select(EXECUTIONS.c.exec_id, EXECUTIONS.c.price).where(
        EXECUTIONS.c.block_id == block.id, EXECUTIONS.c.exec_id.startswith(f"{base}.", autoescape=True)
    )
    return {row.exec_id: row.price for row in await uow.connection.execute(query)}
