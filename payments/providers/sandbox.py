"""The sandbox provider (the demo and the tests): payouts settle after a delay, some fail (a configured share,
picked by the withdrawal's id so that a run repeats), and deposit instructions are paid by themselves after a
delay. Its outcomes are read from the database, so a restart loses nothing: the event ids are fixed by what
they are about, and an outcome is applied once."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import select

from core.config import Settings
from core.db import UnitOfWork

from ..deposits import REFERENCES, TRANSFERS
from ..states import WithdrawalStatus
from ..withdrawals import in_status
from .base import Payout, ProviderEvent

NAME = "sandbox"


class SandboxProvider:
    name = NAME
    sends = True

    def __init__(self, settings: Settings) -> None:
        self._settle_after = timedelta(seconds=settings.payments_sandbox_settle_seconds)
        self._deposit_after = timedelta(seconds=settings.payments_sandbox_deposit_seconds)
        self._failure_rate = settings.payments_sandbox_failure_rate
        self._auto_deposits = settings.payments_sandbox_auto_deposit

    async def submit(self, payout: Payout) -> str:
        return f"{NAME}-{payout.withdrawal_id}"

    async def due(self, uow: UnitOfWork, now: datetime) -> list[ProviderEvent]:
        events = []
        for withdrawal in await in_status(uow, WithdrawalStatus.SUBMITTED, NAME):
            if withdrawal.provider_ref and withdrawal.updated_at + self._settle_after <= now:
                if self.fails(str(withdrawal.id)):
                    events.append(ProviderEvent(f"fail/{withdrawal.id}", "payout.failed", withdrawal.provider_ref,
                                                reason="the sandbox bank refused it"))  # fmt: skip
                else:
                    events.append(ProviderEvent(f"settle/{withdrawal.id}", "payout.settled", withdrawal.provider_ref))
        if self._auto_deposits:
            events += await self._deposits_paid(uow, now)
        return events

    def fails(self, withdrawal_id: str) -> bool:
        draw = int.from_bytes(hashlib.sha256(withdrawal_id.encode()).digest()[:8], "big") / 2**64
        return draw < self._failure_rate

    async def _deposits_paid(self, uow: UnitOfWork, now: datetime) -> list[ProviderEvent]:
        """Each deposit instruction older than the delay, paid as instructed (once: its transaction id is its
        reference)."""
        paid = select(TRANSFERS.c.provider_tx_id).where(TRANSFERS.c.provider == NAME)
        query = select(REFERENCES).where(
            REFERENCES.c.created_at <= now - self._deposit_after, REFERENCES.c.reference.not_in(paid)
        )
        return [
            ProviderEvent(
                f"deposit/{row.reference}",
                "transfer.received",
                tx_id=row.reference,
                amount=Decimal(row.amount),
                reference=row.reference,
            )
            for row in await uow.connection.execute(query)
        ]
