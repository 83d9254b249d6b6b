"""Cash movements, as ledger entries: an investor's deposits, withdrawals (and their returns), transfers between
investors, fees; money in suspense; and transfers between the platform's bank and IB.

Each takes a caller-supplied idempotency key: the same key books once, whatever the number of deliveries.
(payments/ keeps the states around deposits and withdrawals; these are their ledger effects.)
"""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from core.db import UnitOfWork

from .accounts import AccountKind, Asset
from .entries import EntryRequest, Leg, PostedEntry
from .money import require_cash
from .service import open_accounts, post_entry

USD = Asset.cash("USD")


async def deposit(uow: UnitOfWork, owner_id: UUID, amount: Decimal, *, key: str, memo: str = "") -> PostedEntry:
    """Money arrived in the platform's bank account for this investor."""
    amount = require_cash(amount)
    bank, cash = await open_accounts(uow, [(AccountKind.BANK, USD, None), (AccountKind.INVESTOR_CASH, USD, owner_id)])
    legs = (Leg.debit(bank.id, amount), Leg.credit(cash.id, amount))
    return await post_entry(uow, EntryRequest(key, "deposit", legs, memo))


async def withdraw(
    uow: UnitOfWork, owner_id: UUID, amount: Decimal, *, key: str, memo: str = "", hold_id: UUID | None = None
) -> PostedEntry:
    """Money left the platform's bank account for this investor's own (out of the withdrawal's hold, if any)."""
    amount = require_cash(amount)
    bank, cash = await open_accounts(uow, [(AccountKind.BANK, USD, None), (AccountKind.INVESTOR_CASH, USD, owner_id)])
    legs = (Leg.debit(cash.id, amount), Leg.credit(bank.id, amount))
    holds = (hold_id,) if hold_id else ()
    return await post_entry(uow, EntryRequest(key, "withdrawal", legs, memo, holds, holds))


async def withdrawal_returned(
    uow: UnitOfWork, owner_id: UUID, amount: Decimal, *, key: str, memo: str = ""
) -> PostedEntry:
    """A withdrawal paid out came back (the investor's bank refused it): the money is theirs again."""
    amount = require_cash(amount)
    bank, cash = await open_accounts(uow, [(AccountKind.BANK, USD, None), (AccountKind.INVESTOR_CASH, USD, owner_id)])
    legs = (Leg.debit(bank.id, amount), Leg.credit(cash.id, amount))
    return await post_entry(uow, EntryRequest(key, "withdrawal_return", legs, memo))


async def into_suspense(uow: UnitOfWork, amount: Decimal, *, key: str, memo: str = "") -> PostedEntry:
    """Money arrived at the platform's bank that matches no investor: it waits in suspense for an admin."""
    amount = require_cash(amount)
    bank, suspense = await open_accounts(uow, [(AccountKind.BANK, USD, None), (AccountKind.SUSPENSE, USD, None)])
    legs = (Leg.debit(bank.id, amount), Leg.credit(suspense.id, amount))
    return await post_entry(uow, EntryRequest(key, "suspense", legs, memo))


async def out_of_suspense(uow: UnitOfWork, owner_id: UUID, amount: Decimal, *, key: str, memo: str = "") -> PostedEntry:
    """An admin matched money in suspense to its investor."""
    amount = require_cash(amount)
    suspense, cash = await open_accounts(
        uow, [(AccountKind.SUSPENSE, USD, None), (AccountKind.INVESTOR_CASH, USD, owner_id)]
    )
    legs = (Leg.debit(suspense.id, amount), Leg.credit(cash.id, amount))
    return await post_entry(uow, EntryRequest(key, "deposit", legs, memo))


async def fund_broker(uow: UnitOfWork, amount: Decimal, *, to_ib: bool, key: str, memo: str = "") -> PostedEntry:
    """Money arrived at IB from the platform's bank (`to_ib`), or at the bank from IB."""
    amount = require_cash(amount)
    bank, broker = await open_accounts(uow, [(AccountKind.BANK, USD, None), (AccountKind.BROKER_CASH, USD, None)])
    source, target = (bank, broker) if to_ib else (broker, bank)
    legs = (Leg.debit(target.id, amount), Leg.credit(source.id, amount))
    return await post_entry(uow, EntryRequest(key, "broker_funding", legs, memo))


async def transfer(
    uow: UnitOfWork, payer_id: UUID, payee_id: UUID, amount: Decimal, *, key: str, memo: str = ""
) -> PostedEntry:
    """Cash from one investor to another (a profit share, say)."""
    amount = require_cash(amount)
    payer, payee = await open_accounts(
        uow, [(AccountKind.INVESTOR_CASH, USD, payer_id), (AccountKind.INVESTOR_CASH, USD, payee_id)]
    )
    legs = (Leg.debit(payer.id, amount), Leg.credit(payee.id, amount))
    return await post_entry(uow, EntryRequest(key, "transfer", legs, memo))


async def charge_fee(uow: UnitOfWork, owner_id: UUID, amount: Decimal, *, key: str, memo: str = "") -> PostedEntry:
    amount = require_cash(amount)
    cash, fees = await open_accounts(
        uow, [(AccountKind.INVESTOR_CASH, USD, owner_id), (AccountKind.HOUSE_FEES, USD, None)]
    )
    legs = (Leg.debit(cash.id, amount), Leg.credit(fees.id, amount))
    return await post_entry(uow, EntryRequest(key, "fee", legs, memo))
