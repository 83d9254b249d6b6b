"""A withdrawal's states and the moves between them (pure).

    requested ─┬─> pending_review ─┬─> approved ──> submitted ─┬─> settled ──> returned
               │                   ├─> rejected                └─> failed
               └─> approved        └─> cancelled
                                   approved ──> cancelled

A withdrawal is requested, then either waits for an admin's review or is approved at once (under the
auto-approval threshold). The investor may cancel until it is submitted to the bank. The ledger holds the
amount from the request, posts it at settlement, gives it back on a rejection, a cancellation or a failure,
and reverses it when the bank returns the payment.
"""

from __future__ import annotations

from enum import StrEnum

from core.errors import InvalidTransition


class WithdrawalStatus(StrEnum):
    REQUESTED = "requested"
    PENDING_REVIEW = "pending_review"
    APPROVED = "approved"
    SUBMITTED = "submitted"
    SETTLED = "settled"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    FAILED = "failed"
    RETURNED = "returned"

    @property
    def holds_money(self) -> bool:
        """The amount is set aside (not yet paid, not given back)."""
        return self in (
            WithdrawalStatus.REQUESTED,
            WithdrawalStatus.PENDING_REVIEW,
            WithdrawalStatus.APPROVED,
            WithdrawalStatus.SUBMITTED,
        )

    @property
    def counts_toward_limit(self) -> bool:
        """Toward the daily limit: every withdrawal that was not refused, dropped or failed."""
        return self not in (WithdrawalStatus.REJECTED, WithdrawalStatus.CANCELLED, WithdrawalStatus.FAILED)


MOVES: dict[WithdrawalStatus, frozenset[WithdrawalStatus]] = {
    WithdrawalStatus.REQUESTED: frozenset({WithdrawalStatus.PENDING_REVIEW, WithdrawalStatus.APPROVED}),
    WithdrawalStatus.PENDING_REVIEW: frozenset(
        {WithdrawalStatus.APPROVED, WithdrawalStatus.REJECTED, WithdrawalStatus.CANCELLED}
    ),
    WithdrawalStatus.APPROVED: frozenset({WithdrawalStatus.SUBMITTED, WithdrawalStatus.CANCELLED}),
    WithdrawalStatus.SUBMITTED: frozenset({WithdrawalStatus.SETTLED, WithdrawalStatus.FAILED}),
    WithdrawalStatus.SETTLED: frozenset({WithdrawalStatus.RETURNED}),
    WithdrawalStatus.REJECTED: frozenset(),
    WithdrawalStatus.CANCELLED: frozenset(),
    WithdrawalStatus.FAILED: frozenset(),
    WithdrawalStatus.RETURNED: frozenset(),
}


def check_move(current: WithdrawalStatus, target: WithdrawalStatus) -> None:
    if target not in MOVES[current]:
        raise InvalidTransition("withdrawal", current.value, target.value)
