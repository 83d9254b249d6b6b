"""The margin calculator, on cases worked out by hand (figures in each docstring)."""

from __future__ import annotations

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.margin import (
    AccountType,
    Holding,
    HypotheticalOrder,
    MarginAccount,
    MarginPolicy,
    MarginRule,
    check_order,
    figures,
    liquidation,
)

AAPL, PENNY = 265598, 999
POLICY = MarginPolicy(lending_capacity=D(100_000))


def account(kind: AccountType, cash: str, *holdings: Holding, held: str = "0", loan: str = "0") -> MarginAccount:
    return MarginAccount(kind, D(cash), D(held), D(loan), list(holdings), house_loans=D(loan))


def test_a_cash_account_buys_with_the_cash_not_held() -> None:
    """10,000 cash, 2,000 held for an open buy: 8,000 of buying power. 50 @ 100 + 1.00 fits; 80 @ 100 + 1.00
    is 1.00 short."""
    cash = account(AccountType.CASH, "10000", held="2000")
    assert figures(cash, POLICY).buying_power == D(8000)
    assert check_order(cash, HypotheticalOrder(AAPL, True, D(50), D(100), D(1)), POLICY).fits
    short = check_order(cash, HypotheticalOrder(AAPL, True, D(80), D(100), D(1)), POLICY)
    assert (short.fits, short.shortfall, short.lending_needed) == (False, D(1), D(0))


def test_reg_t_on_a_margin_account() -> None:
    """10,000 cash: buying power 20,000. Buy 150 @ 100 = 15,000: 5,000 borrowed; equity 10,000, initial
    7,500, maintenance 3,750, excess liquidity 6,250 (cash 0, loan 5,000), buying power (10,000 - 7,500) / 50 % = 5,000,
    usage 3,750 / 10,000 = 37.5 %."""
    margin = account(AccountType.MARGIN, "10000")
    assert figures(margin, POLICY).buying_power == D(20000)
    check = check_order(margin, HypotheticalOrder(AAPL, True, D(150), D(100)), POLICY)
    after = check.after
    assert check.fits and check.lending_needed == D(5000)
    assert (after.cash, after.loan, after.long_market_value, after.equity) == (D(0), D(5000), D(15000), D(10000))
    assert (after.initial_requirement, after.maintenance_requirement) == (D(7500), D(3750))
    assert (after.excess_liquidity, after.buying_power, after.margin_usage) == (D(6250), D(5000), D("0.375"))


def test_a_fall_in_price_breaches_maintenance() -> None:
    """Long 150 @ 40 with a 5,000 loan and no cash: equity 6,000 - 5,000 = 1,000 against a maintenance
    requirement of 1,500: a breach of 500."""
    margin = account(AccountType.MARGIN, "0", Holding(AAPL, D(150), D(40)), loan="5000")
    result = figures(margin, POLICY)
    assert (result.equity, result.maintenance_requirement, result.excess_liquidity) == (D(1000), D(1500), D(-500))
    assert result.maintenance_breach and result.margin_usage == D("1.5")


def test_house_rules_raise_requirements() -> None:
    """Under $5 a stock is not marginable (100 %); an override of 70 %/40 % on AAPL beats Reg T."""
    policy = MarginPolicy(overrides={AAPL: MarginRule(D("0.70"), D("0.40"))}, lending_capacity=D(100_000))
    penny = figures(account(AccountType.MARGIN, "0", Holding(PENNY, D(1000), D("4.00"))), policy)
    assert (penny.initial_requirement, penny.maintenance_requirement) == (D(4000), D(4000))
    apple = figures(account(AccountType.MARGIN, "0", Holding(AAPL, D(10), D(100))), policy)
    assert (apple.initial_requirement, apple.maintenance_requirement) == (D(700), D(400))


def test_loans_never_exceed_the_house_capacity() -> None:
    """Capacity 6,000 with 1,500 lent to others: a buy needing a 5,000 loan is 500 beyond what the house has."""
    margin = MarginAccount(AccountType.MARGIN, D(10000), D(0), D(0), [], house_loans=D(1500))
    check = check_order(margin, HypotheticalOrder(AAPL, True, D(150), D(100)), MarginPolicy(lending_capacity=D(6000)))
    assert not check.fits and check.shortfall == D(500)
    assert figures(margin, MarginPolicy(lending_capacity=D(6000))).buying_power == D(14500)


def test_a_sale_always_fits() -> None:
    margin = account(AccountType.MARGIN, "0", Holding(AAPL, D(150), D(40)), loan="5000")
    assert check_order(margin, HypotheticalOrder(AAPL, False, D(100), D(40), D(1)), POLICY).fits


def test_rules_are_coherent() -> None:
    with pytest.raises(ValueError):
        MarginRule(D("0.25"), D("0.50"))


@given(
    cash=st.integers(0, 1_000_000),
    quantity=st.integers(1, 10_000),
    price=st.decimals(D("0.5"), D("1000"), places=2),
    kind=st.sampled_from(list(AccountType)),
)
def test_an_order_that_fits_never_leaves_the_account_below_its_initial_requirement(
    cash: int, quantity: int, price: D, kind: AccountType
) -> None:
    start = account(kind, str(cash))
    check = check_order(start, HypotheticalOrder(AAPL, True, D(quantity), price), POLICY)
    if check.fits:
        assert check.after.equity >= check.after.initial_requirement
        assert check.after.cash >= 0 and check.after.loan <= POLICY.lending_capacity
        if kind is AccountType.CASH:
            assert check.lending_needed == 0


@given(
    positions=st.lists(
        st.tuples(st.integers(1, 500), st.decimals(D("1.00"), D("400.00"), places=2)),
        min_size=1,
        max_size=6,
    ),
    leverage=st.decimals(D("0.3"), D("1.2"), places=2),
)
def test_a_liquidation_plan_cures_a_breach_or_sells_everything(positions: list[tuple[int, D]], leverage: D) -> None:
    """Bought at some price with a loan of `leverage` times the positions' value at the mark; after the plan's
    sales at the mark, the account is above maintenance, or (equity below zero) holds nothing."""
    holdings = [Holding(1000 + n, D(quantity), price) for n, (quantity, price) in enumerate(positions)]
    value = sum((h.quantity * h.price for h in holdings), D(0))
    loan = (value * leverage).quantize(D("0.01"))
    start = account(AccountType.MARGIN, "0", *holdings, loan=str(loan))
    sales = liquidation(start, POLICY)
    if not figures(start, POLICY).maintenance_breach:
        assert sales == []
        return
    sold = {sale.con_id: sale.quantity for sale in sales}
    assert all(0 < sold[h.con_id] <= h.quantity for h in holdings if h.con_id in sold)
    left = [Holding(h.con_id, h.quantity - sold.get(h.con_id, D(0)), h.price) for h in holdings]
    proceeds = sum((sale.quantity * sale.price for sale in sales), D(0))
    after = account(AccountType.MARGIN, str(proceeds), *[h for h in left if h.quantity], loan=str(loan))
    if figures(start, POLICY).equity >= 0:
        assert not figures(after, POLICY).maintenance_breach
    else:
        assert all(h.quantity == 0 for h in left)
