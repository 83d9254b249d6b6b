"""The port every payment provider fills, and what flows through it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Literal, Protocol
from uuid import UUID

from core.db import UnitOfWork

from ..bank_details import BankKind

EventKind = Literal["transfer.received", "payout.settled", "payout.failed", "payout.returned"]
EVENT_KINDS: tuple[EventKind, ...] = ("transfer.received", "payout.settled", "payout.failed", "payout.returned")


@dataclass(frozen=True)
class Payout:
    """A withdrawal as the bank must pay it (the account number unsealed for this, and only this)."""

    withdrawal_id: UUID
    amount: Decimal
    kind: BankKind
    account_number: str
    holder: str
    bic: str | None
    routing_number: str | None


@dataclass(frozen=True)
class ProviderEvent:
    """What a provider tells: money arrived (with the payer's reference), or a payout settled, failed or came
    back. `event_id` is the provider's own: the same event twice is applied once."""

    event_id: str
    kind: EventKind
    provider_ref: str = ""  # a payout's, as `submit` returned it
    tx_id: str = ""  # an incoming transfer's
    amount: Decimal | None = None
    reference: str = ""  # what the payer wrote on an incoming transfer
    reason: str = ""  # why a payout failed or came back


class PaymentProvider(Protocol):
    name: str
    sends: bool  # it sends payouts itself (submit returns its reference); False: the operator sends them by hand

    async def submit(self, payout: Payout) -> str | None:
        """Send the payout; the provider's reference for it, or None when the operator sends it by hand. The
        withdrawal's id is the provider's idempotency key: a payout sent again (our process died between
        sending it and recording that it was sent) is the same payout, never a second one."""

    async def due(self, uow: UnitOfWork, now: datetime) -> list[ProviderEvent]:
        """What the provider has to say by now, when it is asked rather than heard from (the sandbox)."""
