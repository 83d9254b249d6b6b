"""The one error tree of Omnibot.

    OmnibotError
    ├── DomainError                 a business refusal: nothing was changed; carries what the user needs to read
    │   ├── NotFound                a thing asked for by id or key does not exist
    │   ├── InvalidTransition       a state machine was asked to skip or reverse a state
    │   ├── IdempotencyConflict     a key was reused for a different request
    │   ├── InvalidAmount           zero, negative, float or too precise where the money policy forbids it
    │   ├── InvalidPersonalData     a name, email, phone or country that cannot be right
    │   ├── UnbalancedEntry         an entry's postings do not sum to zero for each asset
    │   ├── InsufficientFunds       an account would go below zero (cash or shares)
    │   ├── HoldNotPending          a hold that has already been posted, released or voided was used
    │   ├── SecondFactorRefusal     the second factor said no
    │   │   ├── TwoFactorNotEnrolled    no confirmed TOTP enrolment
    │   │   ├── InvalidCode             a wrong, expired or already used code
    │   │   ├── TwoFactorLocked         too many wrong codes: locked until a time
    │   │   └── SessionLocked           trading needs a session unlocked by a code
    │   ├── ActionUnavailable       a button's pending action is unknown, another user's, expired or used
    │   ├── OnboardingAnswerRefused an onboarding answer that does not fit its question
    │   ├── InvalidCommand          a command's words that cannot be read
    │   ├── CopyRefused             copy trading refused a request (an alias taken, following oneself, bad terms)
    │   ├── PaymentRefused          a bank account, a deposit or a withdrawal refused (bad details, over a limit)
    │   ├── AlertRefused            a price alert or a protective order refused (already true, too many, no shares)
    │   └── OrderRefused            pre-trade risk or the order's state refused a request
    │       ├── AccountNotActive        the investor's account is not active (pending, frozen, closed)
    │       ├── TradingHalted           the kill switch, or the instrument is halted
    │       ├── NotTradable             the broker does not know the instrument, or has no price for it
    │       ├── InvalidQuantity         not a positive whole number of shares
    │       ├── InvalidPrice            a limit price that is not positive or too precise
    │       ├── OrderTooLarge           the notional is above the per-order cap
    │       ├── PriceOutsideCollar      a limit price too far from the last price
    │       ├── InsufficientBuyingPower the order costs more than the account can carry
    │       ├── LendingCapacityExceeded a margin loan beyond what the house has left to lend
    │       ├── InsufficientShares      a sale larger than the shares not already held for open sales
    │       ├── TooManyOrders           over the per-investor rate of new orders
    │       └── OrderNotCancellable     the order has ended, or is no longer the investor's to cancel
    └── InfrastructureError         something outside the business rules failed
        ├── ConfigurationError      a setting is missing or malformed
        ├── DecryptionError         a stored value cannot be decrypted (wrong key, or moved or altered)
        ├── AuditBroken             the audit trail's hash chain does not hold: an event was altered or removed
        ├── TransientDatabaseError  a serialization failure, deadlock or busy database: retrying may succeed
        ├── BrokerUnavailable       the IB connection is not ready in time
        └── BrokerRequestFailed     IB answered a request with an error (its code and text)

The bot turns a DomainError into the investor's message in one place; messages here are for operators and logs,
and never carry markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from uuid import UUID


class OmnibotError(Exception):
    """Base of every error Omnibot raises on purpose."""


class DomainError(OmnibotError):
    """A business refusal; the state is as it was before the request."""


@dataclass(eq=False)
class NotFound(DomainError):
    what: str
    key: object

    def __str__(self) -> str:
        return f"{self.what} {self.key} not found"


@dataclass(eq=False)
class InvalidTransition(DomainError):
    what: str
    current: str
    requested: str

    def __str__(self) -> str:
        return f"{self.what} cannot go from {self.current} to {self.requested}"


@dataclass(eq=False)
class IdempotencyConflict(DomainError):
    key: str

    def __str__(self) -> str:
        return f"idempotency key {self.key!r} was already used for a different request"


@dataclass(eq=False)
class InvalidAmount(DomainError):
    amount: object
    reason: str

    def __str__(self) -> str:
        return f"invalid amount {self.amount!r}: {self.reason}"


@dataclass(eq=False)
class InvalidPersonalData(DomainError):
    problems: list[str]

    def __str__(self) -> str:
        return "; ".join(self.problems)


@dataclass(eq=False)
class UnbalancedEntry(DomainError):
    key: str
    asset: str
    imbalance: Decimal

    def __str__(self) -> str:
        return f"entry {self.key!r} does not balance in {self.asset}: off by {self.imbalance}"


@dataclass(eq=False)
class InsufficientFunds(DomainError):
    account_id: UUID
    asset: str
    requested: Decimal
    available: Decimal

    def __str__(self) -> str:
        return (
            f"account {self.account_id} has {self.available} {self.asset} available, "
            f"{self.requested} {self.asset} needed"
        )


@dataclass(eq=False)
class HoldNotPending(DomainError):
    hold_id: UUID
    status: str

    def __str__(self) -> str:
        return f"hold {self.hold_id} is {self.status}, no longer pending"


class SecondFactorRefusal(DomainError):
    """The second factor refused the request."""


@dataclass(eq=False)
class TwoFactorNotEnrolled(SecondFactorRefusal):
    user_id: UUID

    def __str__(self) -> str:
        return f"user {self.user_id} has not enrolled a second factor"


@dataclass(eq=False)
class InvalidCode(SecondFactorRefusal):
    attempts_left: int

    def __str__(self) -> str:
        return f"wrong or used code ({self.attempts_left} attempts left before a lockout)"


@dataclass(eq=False)
class TwoFactorLocked(SecondFactorRefusal):
    until: datetime

    def __str__(self) -> str:
        return f"too many wrong codes: locked until {self.until.isoformat()}"


@dataclass(eq=False)
class SessionLocked(SecondFactorRefusal):
    """Trading needs a session unlocked by a code, and none is open."""

    user_id: UUID

    def __str__(self) -> str:
        return f"user {self.user_id} has no unlocked trading session"


@dataclass(eq=False)
class ActionUnavailable(DomainError):
    """A button's pending action is unknown, another user's, expired or used already: nothing happens."""

    reason: str  # unknown, expired or used (another user's reads as unknown)

    def __str__(self) -> str:
        return f"pending action {self.reason}"


@dataclass(eq=False)
class InvalidCommand(DomainError):
    """A command's words that cannot be read: what was wrong, and how it is written."""

    problem: str
    usage: str

    def __str__(self) -> str:
        return f"{self.problem} (usage: {self.usage})"


@dataclass(eq=False)
class OnboardingAnswerRefused(DomainError):
    """An onboarding answer that does not fit the question asked."""

    problem: str

    def __str__(self) -> str:
        return self.problem


@dataclass(eq=False)
class CopyRefused(DomainError):
    """Copy trading refused a request: leading, following, or a copy's terms; what was wrong, in plain words."""

    problem: str

    def __str__(self) -> str:
        return self.problem


@dataclass(eq=False)
class AlertRefused(DomainError):
    """A price alert or a protective order could not be set; what was wrong, in plain words."""

    problem: str

    def __str__(self) -> str:
        return self.problem


@dataclass(eq=False)
class PaymentRefused(DomainError):
    """A bank account, deposit or withdrawal refused; what was wrong, in plain words."""

    problem: str

    def __str__(self) -> str:
        return self.problem


class OrderRefused(DomainError):
    """An order request refused by pre-trade risk or by the order's state; nothing was changed."""


@dataclass(eq=False)
class AccountNotActive(OrderRefused):
    status: str

    def __str__(self) -> str:
        return f"the account is {self.status}, not active"


@dataclass(eq=False)
class TradingHalted(OrderRefused):
    symbol: str | None  # None: all trading is halted
    reason: str

    def __str__(self) -> str:
        return f"trading in {self.symbol or 'all instruments'} is halted: {self.reason}"


@dataclass(eq=False)
class NotTradable(OrderRefused):
    symbol: str
    reason: str

    def __str__(self) -> str:
        return f"{self.symbol} cannot be traded: {self.reason}"


@dataclass(eq=False)
class InvalidQuantity(OrderRefused):
    quantity: object

    def __str__(self) -> str:
        return f"{self.quantity!r} is not a positive whole number of shares"


@dataclass(eq=False)
class InvalidPrice(OrderRefused):
    price: object
    reason: str

    def __str__(self) -> str:
        return f"invalid price {self.price!r}: {self.reason}"


@dataclass(eq=False)
class OrderTooLarge(OrderRefused):
    notional: Decimal
    cap: Decimal

    def __str__(self) -> str:
        return f"the order is worth about {self.notional}, above the limit of {self.cap} per order"


@dataclass(eq=False)
class PriceOutsideCollar(OrderRefused):
    price: Decimal
    last: Decimal
    low: Decimal
    high: Decimal

    def __str__(self) -> str:
        return f"limit {self.price} is too far from the last price {self.last}: allowed {self.low} to {self.high}"


@dataclass(eq=False)
class InsufficientBuyingPower(OrderRefused):
    needed: Decimal
    available: Decimal

    def __str__(self) -> str:
        return f"the order needs {self.needed} of buying power; {self.available} is available"


@dataclass(eq=False)
class LendingCapacityExceeded(OrderRefused):
    """The order would need a margin loan beyond what the house has left to lend."""

    needed: Decimal
    room: Decimal

    def __str__(self) -> str:
        return f"the order needs a margin loan of {self.needed}; the house can lend {self.room} more right now"


@dataclass(eq=False)
class InsufficientShares(OrderRefused):
    symbol: str
    requested: Decimal
    available: Decimal

    def __str__(self) -> str:
        return f"cannot sell {self.requested} {self.symbol}: {self.available} available to sell"


@dataclass(eq=False)
class TooManyOrders(OrderRefused):
    limit: int
    retry_after_seconds: int

    def __str__(self) -> str:
        return f"more than {self.limit} new orders a minute; try again in {self.retry_after_seconds} s"


@dataclass(eq=False)
class OrderNotCancellable(OrderRefused):
    order_id: UUID
    status: str

    def __str__(self) -> str:
        return f"order {self.order_id} is {self.status} and can no longer be cancelled"


class InfrastructureError(OmnibotError):
    """A failure outside the business rules."""


class ConfigurationError(InfrastructureError):
    """A setting is missing or malformed; the message names the setting."""


class DecryptionError(InfrastructureError):
    """A stored value cannot be decrypted under the keyring and the context it is read in."""


@dataclass(eq=False)
class AuditBroken(InfrastructureError):
    whole_rows: int
    broken_at: int | None

    def __str__(self) -> str:
        return f"the audit trail is broken at event {self.broken_at} (the {self.whole_rows} before it hold)"


class TransientDatabaseError(InfrastructureError):
    """The database refused the transaction for a reason that may pass (serialization, deadlock, busy)."""


class BrokerUnavailable(InfrastructureError):
    """The IB connection is not ready (disconnected, recovering, or the gateway lost IB) within the time allowed."""


class BrokerRequestFailed(InfrastructureError):
    """IB answered a request with an error; `code` and `text` are IB's."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"IB error {code}: {text}")
        self.code, self.text = code, text
