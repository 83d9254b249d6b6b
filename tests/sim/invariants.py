"""What must hold after every settled step of the simulation, each check a list of sentences (empty: it holds).

- The books: every asset's postings sum to zero, and every cached balance equals its postings
  (ledger/integrity.py).
- No investor below zero beyond the credit a margin rule gives.
- Each execution IB made is booked exactly once (a correction replaces, never adds).
- The omnibus identity: the house's IB position and cash accounts equal the simulator's account.
- Every order is terminal, or live with its block's order open at IB.
- Allocations exact, and a notification for every fill: each execution's shares are exactly what its orders
  were told they got plus what went to the house; each order's fill is the sum of what it was told, execution
  by execution; each block's fill is the sum of its executions.
- Every withdrawal moved only as its state machine allows, with the ledger effect of where it is, and as the
  bank (tests/sim/bank.py) saw it: paid, refused or sent back only what was sent to it, for its amount.
- Every transfer the bank received is in the books once, for its amount (credited, or in suspense).
- Every order confirmed in the chat exists, once.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select

from bot.emulator.telegram_html import visible_text
from bot.notice_text import pushed_text
from broker.order_states import OrderStatus
from broker.order_store import BLOCKS, EXECUTIONS, ORDERS
from core.db import UnitOfWork
from core.outbox import OUTBOX
from ledger.accounts import AccountKind
from ledger.holds import HoldStatus
from ledger.integrity import check_books
from ledger.models import Account, Entry, Hold, Instrument
from payments.models import IncomingTransfer, Withdrawal, WithdrawalTransition
from payments.states import MOVES, WithdrawalStatus

from .bank import SimBank
from .world import FIRST_TELEGRAM_ID, SIM_CASH, World

FILL_TEXTS = ("Bought", "Sold", "Copy trade: Bought", "Copy trade: Sold")

ACCOUNTS = Account.__table__
HOLDS, ENTRIES, INSTRUMENTS = Hold.__table__, Entry.__table__, Instrument.__table__
WITHDRAWALS, TRANSITIONS = Withdrawal.__table__, WithdrawalTransition.__table__
TRANSFERS = IncomingTransfer.__table__


async def violations(world: World) -> list[str]:
    found = await world.db.transact(check_books, readonly=True)
    found += await world.db.transact(
        lambda uow: _below_zero(uow, world.settings.margin_lending_capacity), readonly=True
    )
    found += await _executions_once(world)
    found += await _omnibus_identity(world)
    found += await _orders_accounted(world)
    found += await world.db.transact(_allocations_exact, readonly=True)
    found += await world.db.transact(lambda uow: _fills_shown(uow, world), readonly=True)
    found += await world.db.transact(lambda uow: _confirmed_orders_placed(uow, world), readonly=True)
    found += await world.db.transact(lambda uow: _chat_withdrawals_as_told(uow, world), readonly=True)
    found += await world.db.transact(_withdrawals_legal, readonly=True)
    found += await world.db.transact(lambda uow: _bank_agrees(uow, world.bank), readonly=True)
    found += await world.db.transact(lambda uow: _transfers_booked_once(uow, world.bank), readonly=True)
    return found


async def _below_zero(uow: UnitOfWork, capacity: Decimal) -> list[str]:
    """No investor below zero beyond the credit margin rules gave them (a cash account has none), and the
    house lends no more than its capacity in all."""
    query = select(ACCOUNTS).where(ACCOUNTS.c.kind == AccountKind.INVESTOR_CASH.value)
    accounts = list(await uow.connection.execute(query))
    found = [
        f"account {account.code} is below zero beyond its credit: {account.balance - account.held}"
        for account in accounts
        if account.balance - account.held < -account.credit_line
    ]
    if (lent := sum((account.credit_line for account in accounts), Decimal(0))) > capacity:
        found.append(f"the house lends {lent}, beyond its capacity {capacity}")
    return found


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


async def _allocations_exact(uow: UnitOfWork) -> list[str]:
    """Shares neither made nor lost between IB's executions, the orders and the house, each share told: the
    notices (`filled/{exec_id}/{order_id}`, one per execution and order) sum to each execution's shares less
    the house's, and to each order's fill; the executions sum to their block's fill. (A correction, `.02`
    after `.01`, is kept as an execution of its own that moved no shares: its notice goes to the admins.)"""
    by_execution: dict[str, Decimal] = defaultdict(Decimal)
    by_order: dict[str, Decimal] = defaultdict(Decimal)
    notices = select(OUTBOX.c.key, OUTBOX.c.payload).where(OUTBOX.c.key.like("filled/%"))
    for notice in await uow.connection.execute(notices):
        exec_id, order_id = notice.key.removeprefix("filled/").rsplit("/", 1)
        by_execution[exec_id] += Decimal(notice.payload["quantity"])
        by_order[order_id] += Decimal(notice.payload["quantity"])
    corrections = select(OUTBOX.c.key).where(OUTBOX.c.key.like("correction/%"))
    corrected = {key.removeprefix("correction/") for key in (await uow.connection.execute(corrections)).scalars()}
    found, per_block = [], defaultdict(Decimal)
    for e in await uow.connection.execute(select(EXECUTIONS).where(EXECUTIONS.c.exec_id.not_in(corrected))):
        per_block[e.block_id] += e.quantity
        if by_execution[e.exec_id] + e.to_house != e.quantity:
            found.append(f"execution {e.exec_id} of {e.quantity}: {by_execution[e.exec_id]} told, {e.to_house} housed")
    blocks = await uow.connection.execute(select(BLOCKS.c.id, BLOCKS.c.filled_quantity))
    found += [
        f"block {block.id} filled {block.filled_quantity}, its executions {per_block[block.id]}"
        for block in blocks
        if per_block[block.id] != block.filled_quantity
    ]
    for order in await uow.connection.execute(select(ORDERS)):
        filled, status = order.filled_quantity, OrderStatus(getattr(order.status, "value", order.status))
        if by_order[str(order.id)] != filled:
            found.append(f"order {order.id} filled {filled}, its notices say {by_order[str(order.id)]}")
        if filled > order.quantity or (status is OrderStatus.FILLED) != (filled == order.quantity):
            found.append(f"order {order.id} is {status.value} with {filled} of {order.quantity} filled")
    return found


async def _fills_shown(uow: UnitOfWork, world: World) -> list[str]:
    """Each fill notice the notifier took as delivered is in its investor's chat at Telegram, word for word (at
    least once: a notifier that dies between sending and recording it sends again)."""
    symbols = dict((await uow.connection.execute(select(INSTRUMENTS.c.con_id, INSTRUMENTS.c.symbol))).all())
    delivered = select(OUTBOX.c.payload).where(OUTBOX.c.topic == "order.filled", OUTBOX.c.processed_at.is_not(None))
    told: dict[str, Counter[str]] = defaultdict(Counter)
    for row in await uow.connection.execute(delivered):
        text = visible_text(pushed_text("order.filled", row.payload, symbols[row.payload["con_id"]]))
        told[row.payload["owner_id"]][text] += 1
    found = []
    for n, owner in enumerate(world.investors):
        shown = Counter(m.text for m in world.telegram.world.chats.get(FIRST_TELEGRAM_ID + n, []) if m.from_bot)
        found += [f"investor {n} was told {text!r} {k} times, their chat shows it {shown[text]}"
                  for text, k in told[str(owner)].items() if shown[text] < k]  # fmt: skip
    return found


async def _confirmed_orders_placed(uow: UnitOfWork, world: World) -> list[str]:
    """An order its investor confirmed in the chat (and was answered) exists, once: a process that died between
    spending the confirmation and writing the order must not leave a tap that says "already used" and did
    nothing."""
    keys = select(ORDERS.c.owner_id, ORDERS.c.client_key).where(ORDERS.c.client_key.like("bot/%"))
    placed = Counter((row.owner_id, row.client_key) for row in await uow.connection.execute(keys))
    return [
        f"the order {key} its investor confirmed was placed {placed[(owner, key)]} times"
        for owner, key in world.confirmed_orders
        if placed[(owner, key)] != 1
    ]


async def _chat_withdrawals_as_told(uow: UnitOfWork, world: World) -> list[str]:
    """A withdrawal the chat said was made exists, once; one the investor replaced (by an order that asked for
    the code to unlock trading) was never made, whatever code came later."""
    keys = select(WITHDRAWALS.c.client_key).where(WITHDRAWALS.c.client_key.like("bot/%"))
    made = Counter(row.client_key for row in await uow.connection.execute(keys))
    return [
        f"the withdrawal {key} was made {made[key]} times, and the chat said it was {said}"
        for key, said in world.chat_withdrawals.items()
        if made[key] != (1 if said == "made" else 0)
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


# where a withdrawal may be, by what the bank did with it (None: it never reached the bank); the first ones of
# each are on their way (the bank acted, we have not heard yet: a process died before the next bank round)
AT_THE_BANK = {
    None: {"requested", "pending_review", "approved", "rejected", "cancelled"},
    "pending": {"approved", "submitted"},
    "paid": {"approved", "submitted", "settled"},
    "refused": {"approved", "submitted", "failed"},
    "returned": {"settled", "returned"},
}


async def _bank_agrees(uow: UnitOfWork, bank: SimBank) -> list[str]:
    """Nothing settled here that the bank did not pay, nothing paid there that was never approved here, each
    payout for its withdrawal's amount (and sent again only unchanged)."""
    found = list(bank.mismatched)
    known = set((await uow.connection.execute(select(WITHDRAWALS.c.id))).scalars())
    found += [f"the bank has a payout {p.withdrawal_id} no withdrawal asked for" for p in bank.payouts.values()
              if p.withdrawal_id not in known]  # fmt: skip
    for withdrawal in await uow.connection.execute(select(WITHDRAWALS)):
        payout, status = bank.payouts.get(withdrawal.id), WithdrawalStatus(withdrawal.status).value
        outcome = payout.outcome if payout else None
        if status not in AT_THE_BANK[outcome]:
            found.append(f"withdrawal {withdrawal.id} is {status}; at the bank: {outcome or 'unknown'}")
        if payout and payout.amount != withdrawal.amount:
            found.append(f"withdrawal {withdrawal.id} of {withdrawal.amount} was paid as {payout.amount}")
    return found


async def _transfers_booked_once(uow: UnitOfWork, bank: SimBank) -> list[str]:
    """Each transfer the bank received is recorded once, for its amount, and in the books: credited to its
    investor, or in suspense."""
    entries = set((await uow.connection.execute(select(ENTRIES.c.idempotency_key))).scalars())
    recorded = list(await uow.connection.execute(select(TRANSFERS)))
    found = [
        f"transfer {t.provider_tx_id} ({t.status}) is not in the books"
        for t in recorded
        if f"deposit/{t.id}" not in entries
    ]
    by_tx: dict[str, list[Decimal]] = defaultdict(list)
    for t in recorded:
        by_tx[t.provider_tx_id].append(t.amount)
    found += [
        f"transfer {tx_id} of {amount} received by the bank, recorded as {by_tx.get(tx_id, [])}"
        for tx_id, amount in bank.received.items()
        if by_tx.get(tx_id) != [amount]
    ]
    found += [f"transfer {tx_id} recorded, never received" for tx_id in by_tx.keys() - bank.received.keys()]
    return found
