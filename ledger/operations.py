"""Cash movements of one investor, as ledger entries: deposits, withdrawals, transfers between investors, fees.

Each takes a caller-supplied idempotency key: the same key books once, whatever the number of deliveries.
(Payments will add the states around deposits and withdrawals; these are their ledger effects.)
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


async def withdraw(uow: UnitOfWork, owner_id: UUID, amount: Decimal, *, key: str, memo: str = "") -> PostedEntry:
    """Money left the platform's bank account for this investor's own."""
    amount = require_cash(amount)
    bank, cash = await open_accounts(uow, [(AccountKind.BANK, USD, None), (AccountKind.INVESTOR_CASH, USD, owner_id)])
    legs = (Leg.debit(cash.id, amount), Leg.credit(bank.id, amount))
    return await post_entry(uow, EntryRequest(key, "withdrawal", legs, memo))


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
