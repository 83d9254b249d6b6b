"""The bank, as the simulation plays it: the payment provider's port with a memory of its own, not our
database's, so that what it paid and what it received can be held against our books.

- Payouts: one per withdrawal id (the provider's idempotency key: a payout sent again, because our process died
  between sending it and recording that it was sent, is the same payout). It pays ten minutes later or refuses
  (one in four, drawn from the withdrawal's id), and tells of it every time it is asked: its events replayed,
  each must apply once. It can send a paid payout back.
- Incoming transfers: what payers sent, delivered by webhook until our side answers (a delivery our process
  died on is delivered again).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

from core.clock import Clock
from core.db import UnitOfWork
from payments.desk import PaymentDesk
from payments.providers.base import Payout, ProviderEvent

PAYS_AFTER = timedelta(minutes=10)
REFUSES = 0.25


@dataclass
class BankPayout:
    withdrawal_id: UUID
    amount: Decimal
    sent_at: datetime
    outcome: str = "pending"  # then "paid" or "refused"; "returned" after "paid"


class SimBank:
    name = "sandbox"  # the provider the settings name
    sends = True

    def __init__(self, clock: Clock) -> None:
        self._clock = clock
        self.payouts: dict[UUID, BankPayout] = {}
        self.submits = 0  # calls, resent payouts included
        self.mismatched: list[str] = []  # a payout sent again with another amount
        self.received: dict[str, Decimal] = {}  # incoming transfers by transaction id
        self._undelivered: list[ProviderEvent] = []

    # ---- payouts

    async def submit(self, payout: Payout) -> str:
        self.submits += 1
        known = self.payouts.setdefault(
            payout.withdrawal_id, BankPayout(payout.withdrawal_id, payout.amount, self._clock.now())
        )
        if known.amount != payout.amount:
            self.mismatched.append(f"payout {payout.withdrawal_id} sent for {known.amount}, then for {payout.amount}")
        return self.reference(payout.withdrawal_id)

    def reference(self, withdrawal_id: UUID) -> str:
        return f"bank-{withdrawal_id}"

    async def due(self, _uow: UnitOfWork, now: datetime) -> list[ProviderEvent]:
        events = []
        for payout in self.payouts.values():
            if payout.outcome == "pending" and now >= payout.sent_at + PAYS_AFTER:
                payout.outcome = "refused" if self._refuses(payout.withdrawal_id) else "paid"
            ref = self.reference(payout.withdrawal_id)
            if payout.outcome == "refused":
                events.append(ProviderEvent(f"fail/{ref}", "payout.failed", ref, reason="the account is closed"))
            if payout.outcome in ("paid", "returned"):
                events.append(ProviderEvent(f"paid/{ref}", "payout.settled", ref))
            if payout.outcome == "returned":
                events.append(ProviderEvent(f"back/{ref}", "payout.returned", ref, reason="the account is closed"))
        return events

    def send_back(self, withdrawal_id: UUID) -> None:
        self.payouts[withdrawal_id].outcome = "returned"

    def paid(self) -> list[BankPayout]:
        return [p for p in self.payouts.values() if p.outcome == "paid"]

    @staticmethod
    def _refuses(withdrawal_id: UUID) -> bool:
        draw = int.from_bytes(hashlib.sha256(str(withdrawal_id).encode()).digest()[:8], "big") / 2**64
        return draw < REFUSES

    # ---- incoming transfers

    def pay_in(self, events: list[ProviderEvent]) -> None:
        """A payer's transfer arrived: its webhook deliveries (the same transfer possibly told more than once)."""
        for event in events:
            assert event.amount is not None
            self.received[event.tx_id] = event.amount
        self._undelivered += events

    async def deliver(self, desk: PaymentDesk) -> None:
        """Deliver every webhook not answered yet, in order; one our process dies on stays to be delivered again."""
        while self._undelivered:
            await desk.apply(self.name, self._undelivered[0])
            self._undelivered.pop(0)
