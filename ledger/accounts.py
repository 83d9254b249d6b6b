"""Accounts of the double-entry ledger, as plain values.

The platform's books: what it owes (investors' cash and shares, unmatched money in suspense) and what it has
(cash and shares at IB, cash in its bank account), with house accounts for its own income and for the fractions
that allocation and rounding leave over. Every account holds one asset: a currency or one instrument.

Postings are signed debit-positive. An account's balance is shown on its normal side: an investor's cash
(a liability, credit-normal) of 100 USD is the sum of its postings, -100, turned around.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple
from uuid import UUID

from .money import ZERO


class Side(StrEnum):
    DEBIT = "debit"
    CREDIT = "credit"


class AccountKind(StrEnum):
    INVESTOR_CASH = "investor_cash"
    INVESTOR_POSITION = "investor_position"
    BROKER_CASH = "broker_cash"
    BROKER_POSITION = "broker_position"
    BANK = "bank"
    SUSPENSE = "suspense"
    HOUSE_EQUITY = "house_equity"
    HOUSE_FEES = "house_fees"
    HOUSE_COMMISSIONS = "house_commissions"
    HOUSE_ERROR = "house_error"


@dataclass(frozen=True)
class KindPolicy:
    normal: Side
    owned_by_investor: bool
    may_go_negative: bool
    asset: str  # "cash", "instrument" or "any"


KIND_POLICY: dict[AccountKind, KindPolicy] = {
    AccountKind.INVESTOR_CASH: KindPolicy(Side.CREDIT, True, False, "cash"),
    AccountKind.INVESTOR_POSITION: KindPolicy(Side.CREDIT, True, False, "instrument"),
    AccountKind.BROKER_CASH: KindPolicy(Side.DEBIT, False, True, "cash"),  # IB lends on margin
    AccountKind.BROKER_POSITION: KindPolicy(Side.DEBIT, False, True, "instrument"),
    AccountKind.BANK: KindPolicy(Side.DEBIT, False, True, "cash"),
    AccountKind.SUSPENSE: KindPolicy(Side.CREDIT, False, True, "cash"),
    AccountKind.HOUSE_EQUITY: KindPolicy(Side.CREDIT, False, True, "any"),
    AccountKind.HOUSE_FEES: KindPolicy(Side.CREDIT, False, True, "cash"),
    AccountKind.HOUSE_COMMISSIONS: KindPolicy(Side.CREDIT, False, True, "cash"),
    AccountKind.HOUSE_ERROR: KindPolicy(Side.CREDIT, False, True, "any"),
}


@dataclass(frozen=True, order=True)
class Asset:
    """A currency (ISO 4217 code) or an instrument (IB's conId); exactly one is set."""

    currency: str | None = None
    con_id: int | None = None

    def __post_init__(self) -> None:
        if (self.currency is None) == (self.con_id is None):
            raise ValueError("an asset is a currency or an instrument, exactly one of them")

    @classmethod
    def cash(cls, currency: str = "USD") -> Asset:
        return cls(currency=currency)

    @classmethod
    def instrument(cls, con_id: int) -> Asset:
        return cls(con_id=con_id)

    @property
    def is_cash(self) -> bool:
        return self.currency is not None

    def __str__(self) -> str:
        return self.currency if self.currency is not None else f"#{self.con_id}"


class AccountSpec(NamedTuple):
    """Which account: a kind, an asset, the investor who owns it, and the sleeve it belongs to, if any.

    A sleeve is a part of an investor's money kept apart from the rest, with cash and shares of its own: a copy
    of a leader's trades is one (copytrade/). The investor's own cash and shares are in no sleeve."""

    kind: AccountKind
    asset: Asset
    owner_id: UUID | None = None
    sleeve_id: UUID | None = None


def account_code(kind: AccountKind, asset: Asset, owner_id: UUID | None = None, sleeve_id: UUID | None = None) -> str:
    """The account's natural key: one account per kind, owner, sleeve and asset."""
    policy = KIND_POLICY[kind]
    if policy.owned_by_investor != (owner_id is not None):
        raise ValueError(f"{kind} accounts {'need' if policy.owned_by_investor else 'have no'} owner")
    if sleeve_id is not None and not policy.owned_by_investor:
        raise ValueError(f"{kind} accounts are in no sleeve")
    if policy.asset != "any" and (policy.asset == "cash") != asset.is_cash:
        raise ValueError(f"{kind} accounts hold {policy.asset}, not {asset}")
    if sleeve_id is not None:
        return f"{kind}/{owner_id}/{sleeve_id}/{asset}"
    return f"{kind}/{owner_id}/{asset}" if owner_id else f"{kind}/{asset}"


@dataclass(frozen=True, order=True)
class Holder:
    """Whose cash and shares a trade moves: an investor's own, or one of their sleeves'."""

    owner_id: UUID
    sleeve_id: UUID | None = None

    def cash(self, currency: str = "USD") -> AccountSpec:
        return AccountSpec(AccountKind.INVESTOR_CASH, Asset.cash(currency), self.owner_id, self.sleeve_id)

    def shares(self, con_id: int) -> AccountSpec:
        return AccountSpec(AccountKind.INVESTOR_POSITION, Asset.instrument(con_id), self.owner_id, self.sleeve_id)


@dataclass(frozen=True)
class AccountState:
    id: UUID
    code: str
    kind: AccountKind
    asset: Asset
    owner_id: UUID | None
    balance: Decimal  # on the normal side
    held: Decimal  # reserved by pending holds
    version: int
    credit_line: Decimal = ZERO  # how far below zero `available` may go: a margin investor's line (ledger/credit.py)
    sleeve_id: UUID | None = None  # see AccountSpec

    @property
    def policy(self) -> KindPolicy:
        return KIND_POLICY[self.kind]

    @property
    def available(self) -> Decimal:
        return self.balance - self.held

    @property
    def spendable(self) -> Decimal:
        """What may still be held or spent: what is available, and the credit line below zero."""
        return self.available + self.credit_line

    def balance_change(self, posting: Decimal) -> Decimal:
        return balance_change(self.kind, posting)

    def after(self, balance: Decimal, held: Decimal) -> AccountState:
        """The account once an entry has moved it: its next version. (Built directly, not with
        dataclasses.replace: a block's fill moves tens of thousands of accounts.)"""
        return AccountState(
            self.id,
            self.code,
            self.kind,
            self.asset,
            self.owner_id,
            balance,
            held,
            self.version + 1,
            self.credit_line,
            self.sleeve_id,
        )


def balance_change(kind: AccountKind, posting: Decimal) -> Decimal:
    """How a debit-positive posting moves the balance of an account of this kind, seen on its normal side."""
    return posting if KIND_POLICY[kind].normal is Side.DEBIT else -posting
