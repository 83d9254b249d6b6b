"""Funding the broker: money the operator moves between the platform's bank account and its IB account,
recorded by an admin when sent and booked when it arrives, so that the books' IB cash follows IB's, and
reconciliation can tell money in transit from a break."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Table, func, insert, select, update

from core import audit
from core.db import UnitOfWork
from core.errors import NotFound
from ledger import operations
from ledger.accounts import AccountKind
from ledger.money import ZERO, require_cash, require_positive
from ledger.store import ACCOUNTS

from .models import BrokerTransfer

TRANSFERS: Table = BrokerTransfer.__table__  # type: ignore[assignment]
TO_IB, FROM_IB = "to_ib", "from_ib"
SENT, ARRIVED = "sent", "arrived"


@dataclass(frozen=True)
class InTransit:
    to_ib: Decimal
    from_ib: Decimal


@dataclass(frozen=True)
class CashPositions:
    """The platform's cash as the books have it: at the bank, at IB, and on its way between them."""

    at_bank: Decimal
    at_ib: Decimal
    in_transit: InTransit


async def record_sent(uow: UnitOfWork, amount: Decimal, *, to_ib: bool, note: str = "") -> UUID:
    amount = require_cash(require_positive(amount))
    transfer_id = uow.ids.new_id()
    row = {"id": transfer_id, "direction": TO_IB if to_ib else FROM_IB, "amount": amount, "status": SENT,
           "note": note[:200], "created_at": uow.clock.now(), "arrived_at": None}  # fmt: skip
    await uow.connection.execute(insert(TRANSFERS).values(**row))
    await audit.record(uow, "operator", "funding.sent", transfer_id, direction=row["direction"], amount=amount)
    return transfer_id


async def mark_arrived(uow: UnitOfWork, transfer_id: UUID) -> None:
    """The money is there: booked between the bank and IB (once)."""
    query = select(TRANSFERS).where(TRANSFERS.c.id == transfer_id).with_for_update()
    row = (await uow.connection.execute(query)).one_or_none()
    if row is None:
        raise NotFound("broker transfer", transfer_id)
    if row.status == ARRIVED:
        return
    await operations.fund_broker(uow, row.amount, to_ib=row.direction == TO_IB, key=f"funding/{transfer_id}",
                                 memo=row.note or "broker funding")  # fmt: skip
    await uow.connection.execute(
        update(TRANSFERS).where(TRANSFERS.c.id == transfer_id).values(status=ARRIVED, arrived_at=uow.clock.now())
    )
    await audit.record(uow, "operator", "funding.arrived", transfer_id, amount=row.amount)


async def in_transit(uow: UnitOfWork) -> InTransit:
    """Money sent and not arrived yet, each way (what reconciliation allows for)."""
    query = (
        select(TRANSFERS.c.direction, func.coalesce(func.sum(TRANSFERS.c.amount), 0))
        .where(TRANSFERS.c.status == SENT)
        .group_by(TRANSFERS.c.direction)
    )
    sums = {direction: Decimal(total) for direction, total in (await uow.connection.execute(query))}
    return InTransit(sums.get(TO_IB, ZERO), sums.get(FROM_IB, ZERO))


async def cash_positions(uow: UnitOfWork) -> CashPositions:
    """A read only: accounts not opened yet count as empty."""
    query = (
        select(ACCOUNTS.c.kind, func.coalesce(func.sum(ACCOUNTS.c.balance), 0))
        .where(
            ACCOUNTS.c.kind.in_([AccountKind.BANK.value, AccountKind.BROKER_CASH.value]), ACCOUNTS.c.currency == "USD"
        )
        .group_by(ACCOUNTS.c.kind)
    )
    sums = {kind: Decimal(total) for kind, total in (await uow.connection.execute(query))}
    return CashPositions(
        sums.get(AccountKind.BANK.value, ZERO), sums.get(AccountKind.BROKER_CASH.value, ZERO), await in_transit(uow)
    )
