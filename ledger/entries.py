"""Journal entries, as plain values, and the pure rule that applies one to the accounts it touches.

An entry is a set of legs (debit-positive amounts on accounts) that sums to zero for each asset. It may consume
holds on the accounts it takes from, and give back the rest of holds whose purpose it completes. `apply_entry`
either returns the accounts and holds as they will be afterwards, or raises the DomainError that explains the
refusal; it never does I/O, so a refusal leaves nothing behind.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID

from core.errors import InsufficientFunds, InvalidAmount, NotFound, UnbalancedEntry

from .accounts import AccountKind, AccountState, Asset
from .holds import HoldState, HoldStatus
from .money import ZERO, is_whole_cents, require_storable

MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class Leg:
    account_id: UUID
    amount: Decimal  # debit positive, credit negative

    @classmethod
    def debit(cls, account_id: UUID, amount: Decimal) -> Leg:
        return cls(account_id, amount)

    @classmethod
    def credit(cls, account_id: UUID, amount: Decimal) -> Leg:
        return cls(account_id, -amount)


@dataclass(frozen=True)
class EntryRequest:
    key: str  # idempotency key: the same key, the same entry, booked once
    kind: str  # what happened, in a word: deposit, trade, fee, transfer, ...
    legs: tuple[Leg, ...]
    memo: str = ""
    holds: tuple[UUID, ...] = ()  # holds this entry posts against, as far as it takes from their accounts
    releases: tuple[UUID, ...] = ()  # holds whose rest goes back once the entry has posted (their order is done)

    def __post_init__(self) -> None:
        if not 0 < len(self.key) <= MAX_KEY_LENGTH:
            raise ValueError(f"an idempotency key has 1 to {MAX_KEY_LENGTH} characters")
        if not 0 < len(self.kind) <= 32 or len(self.memo) > 500:
            raise ValueError("an entry's kind has 1 to 32 characters and its memo at most 500")
        if len(self.legs) < 2:
            raise ValueError("an entry has at least two legs")
        if len({leg.account_id for leg in self.legs}) != len(self.legs):
            raise ValueError("an entry touches each account once")
        if len(set(self.holds)) != len(self.holds) or len(set(self.releases)) != len(self.releases):
            raise ValueError("an entry names each hold once")
        for leg in self.legs:
            if leg.amount == 0:
                raise InvalidAmount(leg.amount, "a leg moves a non-zero amount")
            require_storable(leg.amount)

    def same_effect_as(self, kind: str, legs: tuple[Leg, ...]) -> bool:
        return self.kind == kind and sorted(self.legs, key=_leg_order) == sorted(legs, key=_leg_order)


def _leg_order(leg: Leg) -> tuple[UUID, Decimal]:
    return leg.account_id, leg.amount


@dataclass(frozen=True)
class PostedLeg:
    account_id: UUID
    amount: Decimal
    balance_after: Decimal


@dataclass(frozen=True)
class PostedEntry:
    id: UUID
    key: str
    kind: str
    memo: str
    created_at: datetime
    legs: tuple[PostedLeg, ...]
    replayed: bool = False  # True when the key had been booked before and nothing new happened

    def leg(self, account_id: UUID) -> PostedLeg:
        return next(leg for leg in self.legs if leg.account_id == account_id)


@dataclass(frozen=True)
class Application:
    accounts: dict[UUID, AccountState]
    holds: dict[UUID, HoldState]
    legs: tuple[PostedLeg, ...]
    consumed: tuple[tuple[UUID, Decimal], ...]  # (hold id, amount posted from it)


def apply_entry(
    request: EntryRequest, accounts: Mapping[UUID, AccountState], holds: Mapping[UUID, HoldState]
) -> Application:
    touched = {}
    for leg in request.legs:
        if leg.account_id not in accounts:
            raise NotFound("account", leg.account_id)
        touched[leg.account_id] = accounts[leg.account_id]
    _check_balanced(request, touched)

    changes = {leg.account_id: touched[leg.account_id].balance_change(leg.amount) for leg in request.legs}
    held = {account_id: account.held for account_id, account in touched.items()}
    # What the entry takes from each account and no hold has covered yet: holds are posted in the order given,
    # and together never cover more than the entry takes.
    uncovered = {account_id: max(-change, ZERO) for account_id, change in changes.items()}
    new_holds, consumed = {}, []
    for hold_id in request.holds:
        hold = holds.get(hold_id)
        if hold is None:
            raise NotFound("hold", hold_id)
        # A fill is a fact and is booked even when its order's hold is used up or already given back (a
        # late fill after a cancel, a worse price than held for): it then draws on what is available.
        if hold.status is not HoldStatus.PENDING:
            continue
        amount = min(uncovered.get(hold.account_id, ZERO), hold.remaining)
        if amount:
            new_holds[hold_id] = hold.consume(amount)
            held[hold.account_id] -= amount
            uncovered[hold.account_id] -= amount
            consumed.append((hold_id, amount))
    for hold_id in request.releases:
        hold = new_holds.get(hold_id) or holds.get(hold_id)
        if hold is None:
            raise NotFound("hold", hold_id)
        if hold.status is HoldStatus.PENDING:
            if hold.account_id not in held:
                raise ValueError(f"hold {hold_id}: an entry releases only holds on the accounts it touches")
            held[hold.account_id] -= hold.remaining
            new_holds[hold_id] = hold.release()

    new_accounts, posted = {}, []
    for leg in request.legs:
        before = touched[leg.account_id]
        after = before.after(before.balance + changes[leg.account_id], held[leg.account_id])
        if changes[leg.account_id] < 0 and not before.policy.may_go_negative and after.spendable < 0:
            raise InsufficientFunds(
                before.id,
                str(before.asset),
                -changes[leg.account_id],
                before.available + before.held - after.held,
            )
        new_accounts[leg.account_id] = after
        posted.append(PostedLeg(leg.account_id, leg.amount, after.balance))
    return Application(new_accounts, new_holds, tuple(posted), tuple(consumed))


def _check_balanced(request: EntryRequest, touched: Mapping[UUID, AccountState]) -> None:
    per_asset: dict[Asset, Decimal] = defaultdict(Decimal)
    for leg in request.legs:
        account = touched[leg.account_id]
        per_asset[account.asset] += leg.amount
        if account.kind is AccountKind.INVESTOR_CASH and not is_whole_cents(leg.amount):
            raise InvalidAmount(leg.amount, "investor cash moves in whole cents")
    for asset, total in sorted(per_asset.items(), key=lambda item: str(item[0])):
        if total != 0:
            raise UnbalancedEntry(request.key, str(asset), total)
