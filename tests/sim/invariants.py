"""What must hold after every settled step of the simulation, each check a list of sentences (empty: it holds).

- The books: every asset's postings sum to zero, and every cached balance equals its postings
  (ledger/integrity.py).
- No investor below zero beyond the credit a margin rule gives.
- Each execution IB made is booked exactly once (a correction replaces, never adds).
- The omnibus identity: the house's IB position and cash accounts equal the simulator's account.
- Every order is terminal, or live with its block's order open at IB.
- Every withdrawal moved only as its state machine allows, with the ledger effect of where it is.
- Every transfer the bank received is in the books once (credited, or in suspense).
- A notification for every fill: each booked execution that filled investors' orders told them.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

from sqlalchemy import func, or_, select

from broker.order_states import OrderStatus
from broker.order_store import BLOCKS, EXECUTIONS, ORDERS
from core.db import UnitOfWork
from core.outbox import OUTBOX
from ledger.accounts import AccountKind
from ledger.holds import HoldStatus
from ledger.integrity import check_books
from ledger.models import Account, Entry, Hold
from payments.models import IncomingTransfer, Withdrawal, WithdrawalTransition
from payments.states import MOVES, WithdrawalStatus

from .world import SIM_CASH, World

ACCOUNTS = Account.__table__
HOLDS, ENTRIES = Hold.__table__, Entry.__table__
WITHDRAWALS, TRANSITIONS = Withdrawal.__table__, WithdrawalTransition.__table__
TRANSFERS = IncomingTransfer.__table__


async def violations(world: World) -> list[str]:
    found = await world.db.transact(check_books, readonly=True)
    found += await world.db.transact(_below_zero, readonly=True)
    found += await _executions_once(world)
    found += await _omnibus_identity(world)
    found += await _orders_accounted(world)
    found += await world.db.transact(_fills_told, readonly=True)
    found += await world.db.transact(_withdrawals_legal, readonly=True)
    found += await world.db.transact(_transfers_booked_once, readonly=True)
    return found


async def _below_zero(uow: UnitOfWork) -> list[str]:
    query = select(ACCOUNTS).where(ACCOUNTS.c.kind == AccountKind.INVESTOR_CASH.value)
    return [
        f"account {account.code} is below zero beyond its credit: {account.balance - account.held}"
        for account in await uow.connection.execute(query)
        if account.balance - account.held < -account.credit_line
    ]


async def _executions_once(world: World) -> list[str]:
    """Each execution booked (the database keeps each id once), and each block sent to IB once: a second IB
    order under one order_ref would be booked to the house and pass every other check."""
    made = {e.exec_id for e in world.sim.desk.executions}
    booked = set(await world.db.transact(_exec_ids, readonly=True))
    found = [f"execution {exec_id} made by IB, never booked" for exec_id in sorted(made - booked)]
    sent = Counter(o.order_ref for o in world.sim.desk.orders.values())
    found += [f"block {order_ref} reached IB {n} times" for order_ref, n in sorted(sent.items()) if n > 1]
    return found


async def _exec_ids(uow: UnitOfWork) -> list[str]:
    return list((await uow.connection.execute(select(EXECUTIONS.c.exec_id))).scalars())


async def _omnibus_identity(world: World) -> list[str]:
    async def read(uow: UnitOfWork) -> list[Any]:
        query = (
            select(ACCOUNTS.c.currency, ACCOUNTS.c.instrument_id, func.sum(ACCOUNTS.c.balance).label("total"))
            .where(ACCOUNTS.c.kind.in_([AccountKind.BROKER_CASH.value, AccountKind.BROKER_POSITION.value]))
            .group_by(ACCOUNTS.c.currency, ACCOUNTS.c.instrument_id)
        )
        return list(await uow.connection.execute(query))

    rows = await world.db.transact(read, readonly=True)
    cash = sum((row.total for row in rows if row.currency == "USD"), Decimal(0))
    found = []
    if cash != world.sim.account.cash - SIM_CASH:
        found.append(f"IB cash {world.sim.account.cash - SIM_CASH} (since the start), the books {cash}")
    at_ib = {con_id: h.quantity for con_id, h in world.sim.account.holdings.items() if h.quantity}
    held = {row.instrument_id: row.total for row in rows if row.instrument_id is not None and row.total}
    if at_ib != held:
        found.append(f"IB positions {at_ib}, the books {held}")
    return found


async def _orders_accounted(world: World) -> list[str]:
    open_at_ib = {o.order_ref for o in world.sim.desk.orders.values() if o.is_open}

    async def read(uow: UnitOfWork) -> list[Any]:
        live = [status.value for status in OrderStatus if status.is_live]
        query = (
            select(ORDERS.c.id, ORDERS.c.block_id, BLOCKS.c.routed_at)
            .join(BLOCKS, BLOCKS.c.id == ORDERS.c.block_id, isouter=True)
            .where(ORDERS.c.status.in_(live))
        )
        return list(await uow.connection.execute(query))

    return [
        f"order {row.id} is live, but IB has no open order for its block"
        for row in await world.db.transact(read, readonly=True)
        if row.block_id is None or str(row.block_id) not in open_at_ib
    ]


async def _fills_told(uow: UnitOfWork) -> list[str]:
    """Each booked execution told its investors (a fill), or the admins (a correction)."""
    keys = select(OUTBOX.c.key).where(or_(OUTBOX.c.key.like("filled/%"), OUTBOX.c.key.like("correction/%")))
    told = {key.split("/")[1] for key in (await uow.connection.execute(keys)).scalars()}
    executions = select(EXECUTIONS.c.exec_id, EXECUTIONS.c.quantity, EXECUTIONS.c.to_house)
    return [
        f"execution {row.exec_id} was booked and nobody was told"
        for row in await uow.connection.execute(executions)
        if row.quantity != row.to_house and row.exec_id not in told
    ]


async def _withdrawals_legal(uow: UnitOfWork) -> list[str]:
    """Each withdrawal moved only as the state machine allows, with the ledger effect of where it is: money
    held while it may still go; paid out once settled (and back once returned); otherwise given back."""
    found = []
    moves = select(TRANSITIONS).order_by(TRANSITIONS.c.withdrawal_id, TRANSITIONS.c.id)
    path: dict[Any, list[Any]] = {}
    for move in await uow.connection.execute(moves):
        path.setdefault(move.withdrawal_id, []).append(move)
    holds = {row.idempotency_key: row for row in await uow.connection.execute(select(HOLDS))}
    entries = set((await uow.connection.execute(select(ENTRIES.c.idempotency_key))).scalars())
    for withdrawal in await uow.connection.execute(select(WITHDRAWALS)):
        status, name = WithdrawalStatus(withdrawal.status), f"withdrawal {withdrawal.id}"
        steps = [(m.from_status, m.to_status) for m in path.get(withdrawal.id, [])]
        at: str | None = None
        for before, after in steps:
            if before != at or (at is not None and WithdrawalStatus(after) not in MOVES[WithdrawalStatus(at)]):
                found.append(f"{name} moved {before} -> {after} from {at}")
            at = after
        if at != status.value:
            found.append(f"{name} is {status.value}, its moves end at {at}")
        hold = holds.get(f"withdrawal/{withdrawal.id}")
        holding = hold is not None and hold.status == HoldStatus.PENDING and hold.amount - hold.posted - hold.released
        if bool(holding) != status.holds_money:
            found.append(f"{name} is {status.value} and its money is {'held' if holding else 'not held'}")
        paid = f"withdrawal/{withdrawal.id}" in entries
        if paid != (status in (WithdrawalStatus.SETTLED, WithdrawalStatus.RETURNED)):
            found.append(f"{name} is {status.value}, and {'was' if paid else 'was not'} paid out")
        if (f"withdrawal/{withdrawal.id}/returned" in entries) != (status is WithdrawalStatus.RETURNED):
            found.append(f"{name} is {status.value}: its return booked wrongly")
    return found


async def _transfers_booked_once(uow: UnitOfWork) -> list[str]:
    """Each transfer the bank received is in the books once: credited to its investor, or in suspense."""
    entries = set((await uow.connection.execute(select(ENTRIES.c.idempotency_key))).scalars())
    return [
        f"transfer {transfer.provider_tx_id} ({transfer.status}) is not in the books"
        for transfer in await uow.connection.execute(select(TRANSFERS))
        if f"deposit/{transfer.id}" not in entries
    ]
