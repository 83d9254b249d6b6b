"""The margin calculator: what an investor's account is worth and may carry, now and after a hypothetical order.

Pure functions on plain values; the service that reads an investor's books is `broker.margin_service`.

Policy (docs/trading.md, "Margin"):
- Cash accounts buy with their cash only (unsettled sale proceeds included: they may buy at once, they are not
  withdrawable before settlement). Buying power is the cash not held for open orders.
- Margin accounts follow Reg T: 50 % initial and 25 % maintenance on long stock, raised by house rules: 100 %
  for any stock under $5, and per-instrument overrides. The strictest applicable rule wins.
  Equity = cash - loan + long market value. Buying power = (equity - initial requirement) / 50 %, limited by
  what the house still has to lend. Excess liquidity = equity - maintenance requirement; below zero is a
  maintenance breach. Margin usage = maintenance requirement / equity.
- Margin loans come from house funds only, never from other investors' cash: the sum of investor loans never
  exceeds the house's lending capacity (a setting).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_CEILING, Decimal
from enum import StrEnum

from ledger.money import ZERO, product, round_cash

ONE = Decimal(1)


class AccountType(StrEnum):
    CASH = "cash"
    MARGIN = "margin"


@dataclass(frozen=True)
class MarginRule:
    initial: Decimal  # a share of the position's value, 0 to 1
    maintenance: Decimal

    def __post_init__(self) -> None:
        if not ZERO < self.maintenance <= self.initial <= ONE:
            raise ValueError("0 < maintenance <= initial <= 1")

    def stricter(self, other: MarginRule) -> MarginRule:
        return MarginRule(max(self.initial, other.initial), max(self.maintenance, other.maintenance))


FULL = MarginRule(ONE, ONE)


@dataclass(frozen=True)
class MarginPolicy:
    standard: MarginRule = MarginRule(Decimal("0.50"), Decimal("0.25"))  # Reg T
    low_price: Decimal = Decimal(5)  # below this price a stock is not marginable: 100 %
    overrides: Mapping[int, MarginRule] = field(default_factory=dict)  # by conId, the house's own
    lending_capacity: Decimal = ZERO  # house funds for margin loans, all investors together

    def rule(self, con_id: int, price: Decimal) -> MarginRule:
        rule = FULL if price < self.low_price else self.standard
        override = self.overrides.get(con_id)
        return rule if override is None else rule.stricter(override)


@dataclass(frozen=True)
class Holding:
    con_id: int
    quantity: Decimal
    price: Decimal  # the mark: last, or the bid when there is no last


@dataclass(frozen=True)
class MarginAccount:
    """An investor's account as the calculator sees it."""

    account_type: AccountType
    cash: Decimal  # the ledger's cash balance (settled or not)
    held: Decimal  # cash set aside for open buy orders
    loan: Decimal  # margin loan outstanding
    holdings: Sequence[Holding]
    house_loans: Decimal = ZERO  # every investor's loans, this one's included

    def after(self, order: HypotheticalOrder) -> MarginAccount:
        """The account as it would be once the order filled at its price (its hold, if any, used up)."""
        cost = round_cash(product(order.quantity, order.price))
        signed = order.quantity if order.buy else -order.quantity
        cash_change = -(cost + order.commission) if order.buy else cost - order.commission
        holdings = list(self.holdings)
        for index, holding in enumerate(holdings):
            if holding.con_id == order.con_id:
                holdings[index] = replace(holding, quantity=holding.quantity + signed, price=order.price)
                break
        else:
            holdings.append(Holding(order.con_id, signed, order.price))
        cash = self.cash + cash_change
        borrowed = max(ZERO, -(cash - self.held)) if self.account_type is AccountType.MARGIN else ZERO
        return replace(
            self,
            cash=cash + borrowed,
            loan=self.loan + borrowed,
            holdings=[h for h in holdings if h.quantity != 0],
            house_loans=self.house_loans + borrowed,
        )


@dataclass(frozen=True)
class HypotheticalOrder:
    con_id: int
    buy: bool
    quantity: Decimal
    price: Decimal  # the limit, or the ask (buy) or bid (sell) for a market order
    commission: Decimal = ZERO


@dataclass(frozen=True)
class MarginFigures:
    account_type: AccountType
    cash: Decimal
    loan: Decimal
    long_market_value: Decimal
    equity: Decimal
    initial_requirement: Decimal
    maintenance_requirement: Decimal
    buying_power: Decimal
    excess_liquidity: Decimal
    margin_usage: Decimal  # maintenance requirement / equity, 0 with nothing held

    @property
    def maintenance_breach(self) -> bool:
        return self.excess_liquidity < 0

    @property
    def initial_breach(self) -> bool:
        return self.equity < self.initial_requirement


def figures(account: MarginAccount, policy: MarginPolicy) -> MarginFigures:
    value = initial = maintenance = ZERO
    for holding in account.holdings:
        worth = round_cash(product(holding.quantity, holding.price))
        rule = policy.rule(holding.con_id, holding.price)
        value += worth
        initial += round_cash(worth * rule.initial)
        maintenance += round_cash(worth * rule.maintenance)
    equity = account.cash - account.loan + value
    free_cash = account.cash - account.held
    if account.account_type is AccountType.CASH:
        buying_power = max(ZERO, free_cash)
        initial = maintenance = value  # nothing is lent: every position is fully paid
    else:
        room_to_lend = max(ZERO, policy.lending_capacity - account.house_loans)
        excess = max(ZERO, equity - account.held - initial)
        buying_power = round_cash(min(excess / policy.standard.initial, max(ZERO, free_cash) + room_to_lend))
    return MarginFigures(
        account_type=account.account_type,
        cash=account.cash,
        loan=account.loan,
        long_market_value=value,
        equity=equity,
        initial_requirement=initial,
        maintenance_requirement=maintenance,
        buying_power=buying_power,
        excess_liquidity=equity - maintenance,
        margin_usage=(maintenance / equity).quantize(Decimal("0.0001")) if equity > 0 else (ONE if value else ZERO),
    )


@dataclass(frozen=True)
class OrderCheck:
    """Whether the account can carry the order, and the figures before and after."""

    before: MarginFigures
    after: MarginFigures
    lending_needed: Decimal  # the new margin loan the order would take
    shortfall: Decimal  # how much equity (or cash) is missing; zero when the order fits

    @property
    def fits(self) -> bool:
        return self.shortfall == 0


def check_order(account: MarginAccount, order: HypotheticalOrder, policy: MarginPolicy) -> OrderCheck:
    """Can the account take this order? A sale that reduces a position always fits (it frees margin)."""
    after_account = account.after(order)
    before, after = figures(account, policy), figures(after_account, policy)
    lending = after_account.loan - account.loan
    if not order.buy:
        shortfall = ZERO
    elif account.account_type is AccountType.CASH:
        needed = round_cash(product(order.quantity, order.price)) + order.commission
        shortfall = max(ZERO, needed - max(ZERO, account.cash - account.held))
    else:
        beyond_capacity = max(ZERO, after_account.house_loans - policy.lending_capacity) if lending else ZERO
        shortfall = max(ZERO, after.initial_requirement - (after.equity - account.held), beyond_capacity)
    return OrderCheck(before, after, lending, shortfall)


def liquidation(account: MarginAccount, policy: MarginPolicy, buffer: Decimal = Decimal("1.10")) -> list[Holding]:
    """The sales (quantity, at the mark) that bring a margin account back above its maintenance requirement with a
    margin of `buffer`, largest positions first; every position when nothing less will do. A sale at the mark
    leaves equity as it is and lowers the requirement by its value times the position's maintenance rate."""
    deficit = -figures(account, policy).excess_liquidity * buffer
    sales: list[Holding] = []
    for holding in sorted(account.holdings, key=lambda h: h.quantity * h.price, reverse=True):
        if deficit <= 0:
            break
        if holding.quantity <= 0 or holding.price <= 0:
            continue
        per_share = holding.price * policy.rule(holding.con_id, holding.price).maintenance
        quantity = min(holding.quantity, (deficit / per_share).to_integral_value(rounding=ROUND_CEILING))
        sales.append(Holding(holding.con_id, quantity, holding.price))
        deficit -= quantity * per_share
    return sales
