"""Two-phase holds, as plain values: money or shares set aside now, posted (in part or whole) or given back later.

    PENDING --(entries consume it in full)--> POSTED
    PENDING --(release: what is left goes back)--> RELEASED     (after any part was posted, or none)
    PENDING --(void: nothing was posted)--> VOIDED

A hold reduces the account's available balance by what it has left (`remaining`). Terminal states never move.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from uuid import UUID

from core.errors import HoldNotPending, InvalidTransition

from .money import ZERO


class HoldStatus(StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    RELEASED = "released"
    VOIDED = "voided"


@dataclass(frozen=True)
class HoldState:
    id: UUID
    account_id: UUID
    amount: Decimal
    posted: Decimal
    released: Decimal
    status: HoldStatus
    key: str
    reason: str

    @property
    def remaining(self) -> Decimal:
        return self.amount - self.posted - self.released

    def _require_pending(self) -> None:
        if self.status is not HoldStatus.PENDING:
            raise HoldNotPending(self.id, self.status.value)

    def consume(self, amount: Decimal) -> HoldState:
        """Post `amount` of what the hold has left; a hold used up is POSTED."""
        self._require_pending()
        if not ZERO < amount <= self.remaining:
            raise ValueError(f"hold {self.id}: cannot post {amount} of {self.remaining} remaining")
        posted = self.posted + amount
        status = HoldStatus.POSTED if posted + self.released == self.amount else HoldStatus.PENDING
        return replace(self, posted=posted, status=status)

    def release(self) -> HoldState:
        """Give back what is left."""
        self._require_pending()
        return replace(self, released=self.released + self.remaining, status=HoldStatus.RELEASED)

    def void(self) -> HoldState:
        """Cancel a hold of which nothing was posted."""
        self._require_pending()
        if self.posted:
            raise InvalidTransition("hold", f"{self.status} with {self.posted} posted", HoldStatus.VOIDED.value)
        return replace(self, released=self.amount, status=HoldStatus.VOIDED)
