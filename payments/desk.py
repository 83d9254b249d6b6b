"""The payment desk: payments' running part, and what the bot and the admins call.

It sends approved withdrawals to the provider, applies what the provider tells (each event once, recorded in
the same transaction as its effect), and runs the investor's and the admins' requests each in one transaction.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Table, insert, select

from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database, UnitOfWork
from core.errors import DomainError, PaymentRefused
from core.leases import Lease
from core.pending_actions import Spend, spent_with
from core.rounds import Rounds

from . import bank_accounts, deposits, withdrawals
from .bank_details import BankDetails
from .models import ProviderEvent as ProviderEventRow
from .providers import manual
from .providers.base import PaymentProvider, Payout, ProviderEvent
from .states import WithdrawalStatus
from .withdrawals import WithdrawalRecord

log = logging.getLogger("omnibot.payments")
EVENTS: Table = ProviderEventRow.__table__  # type: ignore[assignment]
MarginCap = Callable[[UUID], Awaitable[Decimal | None]]  # what margin rules let an investor take out (None: no cap)


async def no_cap(_owner_id: UUID) -> Decimal | None:
    return None


class PaymentDesk:
    def __init__(
        self,
        db: Database,
        settings: Settings,
        cipher: FieldCipher,
        provider: PaymentProvider,
        margin_cap: MarginCap = no_cap,
    ) -> None:
        self._db, self._settings, self._cipher, self._provider = db, settings, cipher, provider
        self._margin_cap = margin_cap
        self._rounds = Rounds("payment desk", self._round, settings.payments_poll_seconds)

    @property
    def provider(self) -> str:
        return self._provider.name

    # ---- the investor

    async def add_bank(
        self, owner_id: UUID, details: BankDetails, holder: str, *, spending: Spend | None = None
    ) -> bank_accounts.BankRecord:
        """Add the account; `spending` (the chat's confirmation) is spent in the same transaction."""
        return await self._db.transact(
            spent_with(
                spending,
                lambda uow: bank_accounts.add_bank_account(
                    uow, self._cipher, self._settings, owner_id, details, holder
                ),
            )
        )

    async def banks(self, owner_id: UUID) -> list[bank_accounts.BankRecord]:
        return await self._db.transact(lambda uow: bank_accounts.bank_accounts(uow, owner_id), readonly=True)

    async def remove_bank(self, owner_id: UUID, account_id: UUID) -> bank_accounts.BankRecord:
        return await self._db.transact(lambda uow: bank_accounts.remove_bank_account(uow, owner_id, account_id))

    async def deposit(self, owner_id: UUID, amount: Decimal) -> deposits.Instructions:
        return await self._db.transact(lambda uow: deposits.instructions(uow, self._settings, owner_id, amount))

    async def withdrawable(self, owner_id: UUID) -> Decimal:
        cap = await self._margin_cap(owner_id)
        return await self._db.transact(lambda uow: withdrawals.withdrawable(uow, owner_id, cap), readonly=True)

    async def withdraw(
        self, owner_id: UUID, bank_id: UUID, amount: Decimal, client_key: str, *, spending: Spend | None = None
    ) -> WithdrawalRecord:
        cap = await self._margin_cap(owner_id)
        record = await self._db.transact(
            lambda uow: withdrawals.request(
                uow, self._settings, owner_id, bank_id, amount, client_key, self.provider, cap, spending
            )
        )
        self._rounds.wake()  # approved at once: on its way
        return record

    async def cancel(self, owner_id: UUID, withdrawal_id: UUID) -> WithdrawalRecord:
        return await self._db.transact(lambda uow: withdrawals.cancel(uow, owner_id, withdrawal_id))

    # ---- the admins

    # Each takes `spending`, the admin's confirmation, spent in the same transaction.

    async def review(
        self, withdrawal_id: UUID, *, approve: bool, admin: str, reason: str = "", spending: Spend | None = None
    ) -> WithdrawalRecord:
        record = await self._db.transact(
            spent_with(
                spending,
                lambda uow: withdrawals.review(uow, withdrawal_id, approve=approve, admin=admin, reason=reason),
            )
        )
        self._rounds.wake()
        return record

    async def record_deposit(
        self, owner_id: UUID, amount: Decimal, bank_ref: str, *, spending: Spend | None = None
    ) -> deposits.Transfer:
        """An admin records money the bank statement shows for this investor."""
        return await self._db.transact(
            spent_with(spending, lambda uow: deposits.record(uow, self._settings, owner_id, amount, bank_ref))
        )

    async def match_suspense(
        self, transfer_id: UUID, owner_id: UUID, *, spending: Spend | None = None
    ) -> deposits.Transfer:
        return await self._db.transact(
            spent_with(spending, lambda uow: deposits.match_suspense(uow, self._settings, transfer_id, owner_id))
        )

    async def mark(
        self, withdrawal_id: UUID, status: WithdrawalStatus, detail: str, *, spending: Spend | None = None
    ) -> WithdrawalRecord:
        """An admin reports what the bank did with a manual payout: sent, settled, failed or returned."""

        async def work(uow: UnitOfWork) -> WithdrawalRecord:
            record = await withdrawals.get(uow, withdrawal_id, lock=True)
            if record.provider != manual.NAME and status in (WithdrawalStatus.SUBMITTED, WithdrawalStatus.FAILED):
                # That provider sends it itself: marked sent by hand as well, it would be paid twice; marked failed,
                # its money would come back while the provider may still pay it. (Settled or returned, as the bank
                # statement shows, it may be marked: that money has moved.)
                raise PaymentRefused(f"this withdrawal is paid through {record.provider}, not by hand")
            if status is WithdrawalStatus.SUBMITTED:
                # The reference is the withdrawal's own (unique); the admin's words (a batch name) go with it.
                return await withdrawals.submitted(uow, record, f"manual-{withdrawal_id} {detail}".strip())
            if status is WithdrawalStatus.RETURNED:
                return await withdrawals.returned(uow, self._settings, record, detail)
            return await withdrawals.move(uow, record, status, detail, actor="operator")

        return await self._db.transact(spent_with(spending, work))

    async def payouts(self, status: WithdrawalStatus) -> list[Payout]:
        """The withdrawals in this state as the bank must pay them (for the manual provider's files)."""
        found = await self._db.transact(lambda uow: withdrawals.in_status(uow, status), readonly=True)
        return [await self._payout(record) for record in found]

    async def to_export(self) -> list[Payout]:
        """The approved withdrawals the operator pays from the bank by hand (the manual provider's files): never
        one meant for a provider that sends by itself, even after the operator switched providers."""
        found = await self._db.transact(
            lambda uow: withdrawals.in_status(uow, WithdrawalStatus.APPROVED, manual.NAME), readonly=True
        )
        return [await self._payout(record) for record in found]

    # ---- the provider

    async def submit_approved(self) -> int:
        """Send every approved withdrawal to the provider (the manual provider keeps them for export)."""
        approved = await self._db.transact(
            lambda uow: withdrawals.in_status(uow, WithdrawalStatus.APPROVED, self.provider), readonly=True
        )
        sent = 0
        for record in approved:
            sending = functools.partial(withdrawals.sending, withdrawal_id=record.id)
            if self._provider.sends and not await self._db.transact(sending):
                continue  # cancelled meanwhile
            reference = await self._provider.submit(await self._payout(record))
            if reference is None:
                continue
            await self._db.transact(functools.partial(self._submitted, withdrawal_id=record.id, reference=reference))
            sent += 1
        return sent

    async def _submitted(self, uow: UnitOfWork, withdrawal_id: UUID, reference: str) -> None:
        record = await withdrawals.get(uow, withdrawal_id, lock=True)
        if record.status is WithdrawalStatus.APPROVED:  # not cancelled meanwhile
            await withdrawals.submitted(uow, record, reference)

    async def poll(self) -> int:
        """Apply what the provider has to say by now; how many events were new."""
        events = await self._db.transact(lambda uow: self._provider.due(uow, uow.clock.now()), readonly=True)
        applied = 0
        for event in events:
            try:
                applied += await self.apply(self.provider, event)
            except DomainError:  # one event we cannot match must not stop the others: it is told again next round
                log.exception("payments: the %s event %s could not be applied", self.provider, event.event_id)
        return applied

    async def apply(self, provider: str, event: ProviderEvent) -> bool:
        """Apply a provider's event once; False when it was applied before (a replay)."""
        return await self._db.transact(functools.partial(self._apply, provider=provider, event=event))

    async def _apply(self, uow: UnitOfWork, provider: str, event: ProviderEvent) -> bool:
        seen = select(EVENTS.c.id).where(EVENTS.c.provider == provider, EVENTS.c.event_id == event.event_id)
        if (await uow.connection.execute(seen)).first() is not None:
            return False
        row = {"provider": provider, "event_id": event.event_id, "kind": event.kind, "received_at": uow.clock.now()}
        await uow.connection.execute(insert(EVENTS).values(**row))
        if event.kind == "transfer.received":
            if event.amount is None or not event.tx_id:
                raise PaymentRefused("an incoming transfer needs its amount and transaction id")
            await deposits.receive(uow, self._settings, provider, event.tx_id, event.amount, event.reference)
            return True
        record = await withdrawals.by_provider_ref(uow, event.provider_ref)
        if event.kind == "payout.settled":
            await withdrawals.move(uow, record, WithdrawalStatus.SETTLED, "settled by the bank", f"provider:{provider}")
        elif event.kind == "payout.failed":
            why = f"the bank could not pay: {event.reason}"
            await withdrawals.move(uow, record, WithdrawalStatus.FAILED, why, f"provider:{provider}")
        else:
            await withdrawals.returned(uow, self._settings, record, event.reason)
        return True

    async def _payout(self, record: WithdrawalRecord) -> Payout:
        async def read(uow: UnitOfWork) -> Payout:
            bank = await bank_accounts.bank_account(uow, record.owner_id, record.bank_account_id)
            number, holder = await bank_accounts.account_number(uow, self._cipher, record.bank_account_id)
            return Payout(record.id, record.amount, bank.kind, number, holder, bank.bic, bank.routing_number)

        return await self._db.transact(read, readonly=True)

    # ---- running

    def start(self, lease: Lease | None = None) -> None:
        self._rounds.start(lease)

    async def stop(self) -> None:
        await self._rounds.stop()

    async def _round(self) -> None:
        await self.submit_approved()
        await self.poll()
