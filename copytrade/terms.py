"""What a follower chose, as plain values: how a copy follows (alerts only or copies), how it sizes its
orders, its limits, and the states a copy and a leader go through."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum


class LeaderStatus(StrEnum):
    PENDING = "pending"  # waiting for an admin's approval (when the platform asks for one)
    ACTIVE = "active"
    REJECTED = "rejected"
    RETIRED = "retired"


class CopyMode(StrEnum):
    ALERTS = "alerts"  # a message for each of the leader's trades, nothing traded
    COPY = "copy"  # the leader's trades mirrored into the copy's sleeve


class CopyStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"  # the leader's trades are skipped (and the follower told), positions kept
    STOPPING = "stopping"  # closing its positions; stopped once they are sold
    STOPPED = "stopped"


# The moves a copy may make; anything else is refused (a stopped copy stays stopped).
COPY_MOVES: dict[CopyStatus, frozenset[CopyStatus]] = {
    CopyStatus.ACTIVE: frozenset({CopyStatus.PAUSED, CopyStatus.STOPPING, CopyStatus.STOPPED}),
    CopyStatus.PAUSED: frozenset({CopyStatus.ACTIVE, CopyStatus.STOPPING, CopyStatus.STOPPED}),
    CopyStatus.STOPPING: frozenset({CopyStatus.STOPPED}),
    CopyStatus.STOPPED: frozenset(),
}


class Sizing(StrEnum):
    PROPORTIONAL = "proportional"  # the leader's trade scaled by the copy's equity over the leader's
    FIXED_AMOUNT = "fixed_amount"  # about this many dollars per leader's buy
    RATIO = "ratio"  # this many shares per leader's share


@dataclass(frozen=True)
class CopyTerms:
    mode: CopyMode
    amount: Decimal = Decimal(0)  # moved from the follower's free cash into the copy (copy mode)
    sizing: Sizing = Sizing.PROPORTIONAL
    sizing_value: Decimal | None = None  # dollars per trade (FIXED_AMOUNT) or shares per share (RATIO)
    max_per_trade: Decimal | None = None  # dollars, per leader's order
    stop_loss_pct: Decimal | None = None  # the copy stops when it has lost this much of what was put in
    take_profit_pct: Decimal | None = None  # the copy stops when it has gained this much
    copy_open_positions: bool = False  # also buy into the leader's positions now, not only new trades
