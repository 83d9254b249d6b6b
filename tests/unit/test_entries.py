"""The pure rule that applies an entry: balanced per asset, cents for investors, no overdraft, holds posted."""

from __future__ import annotations

import uuid
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InsufficientFunds, InvalidAmount, UnbalancedEntry
from ledger.accounts import AccountKind, AccountState, Asset, account_code
from ledger.entries import EntryRequest, Leg, apply_entry
from ledger.holds import HoldState, HoldStatus

USD, AAPL = Asset.cash(), Asset.instrument(265598)
ALICE = uuid.uuid4()


def account(kind: AccountKind, asset: Asset, balance: str = "0", held: str = "0") -> AccountState:
    owner = ALICE if kind.value.startswith("investor") else None
    return AccountState(
        uuid.uuid4(), account_code(kind, asset, owner), kind, asset, owner, Decimal(balance), Decimal(held), 3
    )


def test_a_balanced_entry_moves_balances_on_their_normal_sides() -> None:
    bank, cash = account(AccountKind.BANK, USD, "10"), account(AccountKind.INVESTOR_CASH, USD, "10")
    applied = apply_entry(
        EntryRequest("k", "deposit", (Leg.debit(bank.id, Decimal(5)), Leg.credit(cash.id, Decimal(5)))),
        {bank.id: bank, cash.id: cash},
        {},
    )
    assert applied.accounts[bank.id].balance == applied.accounts[cash.id].balance == Decimal(15)
    assert applied.accounts[bank.id].version == 4
    assert [leg.balance_after for leg in applied.legs] == [Decimal(15), Decimal(15)]


def test_each_asset_must_balance_on_its_own() -> None:
    cash, shares = account(AccountKind.INVESTOR_CASH, USD, "100"), account(AccountKind.BROKER_POSITION, AAPL)
    request = EntryRequest("k", "swap", (Leg.debit(cash.id, Decimal(5)), Leg.credit(shares.id, Decimal(5))))
    with pytest.raises(UnbalancedEntry) as refused:
        apply_entry(request, {cash.id: cash, shares.id: shares}, {})
    assert refused.value.asset in ("USD", "#265598")


def test_investor_cash_moves_in_whole_cents_while_the_broker_side_is_exact() -> None:
    cash, broker = account(AccountKind.INVESTOR_CASH, USD, "100"), account(AccountKind.BROKER_CASH, USD)
    error = account(AccountKind.HOUSE_ERROR, USD)
    accounts = {a.id: a for a in (cash, broker, error)}
    with pytest.raises(InvalidAmount, match="whole cents"):
        apply_entry(
            EntryRequest("k", "t", (Leg.debit(cash.id, Decimal("1.005")), Leg.credit(broker.id, Decimal("1.005")))),
            accounts,
            {},
        )
    apply_entry(
        EntryRequest(
            "k",
            "t",
            (
                Leg.debit(cash.id, Decimal("1.00")),
                Leg.debit(error.id, Decimal("0.005")),
                Leg.credit(broker.id, Decimal("1.005")),
            ),
        ),
        accounts,
        {},
    )


def test_an_investor_cannot_spend_what_is_held() -> None:
    cash, bank = (
        account(AccountKind.INVESTOR_CASH, USD, "100", held="60"),
        account(AccountKind.BANK, USD, "100"),
    )
    request = EntryRequest("k", "w", (Leg.debit(cash.id, Decimal(41)), Leg.credit(bank.id, Decimal(41))))
    with pytest.raises(InsufficientFunds) as refused:
        apply_entry(request, {cash.id: cash, bank.id: bank}, {})
    assert (refused.value.requested, refused.value.available) == (Decimal(41), Decimal(40))


def test_an_entry_posts_against_a_hold_as_far_as_it_takes_from_the_account() -> None:
    cash, broker = (
        account(AccountKind.INVESTOR_CASH, USD, "100", held="60"),
        account(AccountKind.BROKER_CASH, USD),
    )
    hold = HoldState(uuid.uuid4(), cash.id, Decimal(60), Decimal(0), Decimal(0), HoldStatus.PENDING, "h", "buy")
    spend = EntryRequest(
        "k", "t", (Leg.debit(cash.id, Decimal(70)), Leg.credit(broker.id, Decimal(70))), holds=(hold.id,)
    )
    applied = apply_entry(spend, {cash.id: cash, broker.id: broker}, {hold.id: hold})
    after = applied.accounts[cash.id]
    assert (after.balance, after.held) == (Decimal(30), Decimal(0))
    assert applied.holds[hold.id].status is HoldStatus.POSTED and applied.consumed == ((hold.id, Decimal(60)),)


def test_a_used_up_hold_posts_nothing_more_and_the_entry_draws_on_what_is_available() -> None:
    cash, broker = account(AccountKind.INVESTOR_CASH, USD, "100"), account(AccountKind.BROKER_CASH, USD)
    hold = HoldState(uuid.uuid4(), cash.id, Decimal(60), Decimal(60), Decimal(0), HoldStatus.POSTED, "h", "buy")
    spend = EntryRequest(
        "k", "t", (Leg.debit(cash.id, Decimal(70)), Leg.credit(broker.id, Decimal(70))), holds=(hold.id,)
    )
    applied = apply_entry(spend, {cash.id: cash, broker.id: broker}, {hold.id: hold})
    assert applied.consumed == () and applied.accounts[cash.id].balance == Decimal(30)


@pytest.mark.parametrize("legs", [(), ("a",)])
def test_an_entry_has_at_least_two_legs(legs: tuple[str, ...]) -> None:
    with pytest.raises(ValueError, match="two legs"):
        EntryRequest("k", "t", tuple(Leg(uuid.uuid4(), Decimal(1)) for _ in legs))


def test_an_entry_touches_each_account_once_and_moves_something() -> None:
    same = uuid.uuid4()
    with pytest.raises(ValueError, match="once"):
        EntryRequest("k", "t", (Leg(same, Decimal(1)), Leg(same, Decimal(-1))))
    with pytest.raises(InvalidAmount):
        EntryRequest("k", "t", (Leg(uuid.uuid4(), Decimal(0)), Leg(uuid.uuid4(), Decimal(0))))


def test_account_codes_check_owner_and_asset() -> None:
    assert account_code(AccountKind.BANK, USD) == "bank/USD"
    with pytest.raises(ValueError, match="need owner"):
        account_code(AccountKind.INVESTOR_CASH, USD)
    with pytest.raises(ValueError, match="hold instrument"):
        account_code(AccountKind.INVESTOR_POSITION, USD, ALICE)


def test_holds_together_never_cover_more_than_the_entry_takes() -> None:
    """Two orders' holds of 100 each on one account; a fill of 100 names both: the first pays, the second keeps
    its reservation."""
    cash, broker = account(AccountKind.INVESTOR_CASH, USD, "300", held="200"), account(AccountKind.BROKER_CASH, USD)
    first, second = (
        HoldState(uuid.uuid4(), cash.id, Decimal(100), Decimal(0), Decimal(0), HoldStatus.PENDING, k, "buy")
        for k in ("h1", "h2")
    )
    spend = EntryRequest(
        "k", "t", (Leg.debit(cash.id, Decimal(100)), Leg.credit(broker.id, Decimal(100))), holds=(first.id, second.id)
    )
    applied = apply_entry(spend, {cash.id: cash, broker.id: broker}, {first.id: first, second.id: second})
    assert applied.consumed == ((first.id, Decimal(100)),)
    assert second.id not in applied.holds
    assert (applied.accounts[cash.id].held, applied.accounts[cash.id].available) == (Decimal(100), Decimal(100))


def test_an_entry_names_each_hold_once() -> None:
    hold = uuid.uuid4()
    with pytest.raises(ValueError, match="each hold once"):
        EntryRequest("k", "t", (Leg(uuid.uuid4(), Decimal(1)), Leg(uuid.uuid4(), Decimal(-1))), holds=(hold, hold))


def test_an_entry_gives_back_the_rest_of_the_holds_it_completes() -> None:
    cash, broker = account(AccountKind.INVESTOR_CASH, USD, "100", held="60"), account(AccountKind.BROKER_CASH, USD)
    hold = HoldState(uuid.uuid4(), cash.id, Decimal(60), Decimal(0), Decimal(0), HoldStatus.PENDING, "h", "buy")
    request = EntryRequest(
        "k", "trade", (Leg.debit(cash.id, Decimal(45)), Leg.credit(broker.id, Decimal(45))), "", (hold.id,), (hold.id,)
    )
    applied = apply_entry(request, {cash.id: cash, broker.id: broker}, {hold.id: hold})
    after = applied.holds[hold.id]
    assert (after.status, after.posted, after.released) == (HoldStatus.RELEASED, Decimal(45), Decimal(15))
    assert (applied.accounts[cash.id].balance, applied.accounts[cash.id].held) == (Decimal(55), Decimal(0))


@given(
    balance=st.integers(min_value=0, max_value=10_000),
    line=st.integers(min_value=0, max_value=10_000),
    spend=st.integers(min_value=1, max_value=25_000),
)
def test_cash_never_goes_below_its_credit_line(balance: int, line: int, spend: int) -> None:
    """A margin investor's cash may go below zero by its credit line, and never further."""
    cash = replace(account(AccountKind.INVESTOR_CASH, USD, str(balance)), credit_line=Decimal(line))
    broker = account(AccountKind.BROKER_CASH, USD)
    request = EntryRequest("k", "trade", (Leg.debit(cash.id, Decimal(spend)), Leg.credit(broker.id, Decimal(spend))))
    try:
        applied = apply_entry(request, {cash.id: cash, broker.id: broker}, {})
    except InsufficientFunds:
        assert spend > balance + line
    else:
        assert applied.accounts[cash.id].available >= -line and spend <= balance + line
