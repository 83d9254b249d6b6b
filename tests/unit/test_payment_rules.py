"""Payments' pure rules: bank details checked against published valid and invalid IBANs and routing numbers,
the holder's name against the verified one, deposit references that catch a mistyped character, and the
withdrawal's state machine, which never skips a state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.errors import InvalidTransition, PaymentRefused
from payments.bank_details import ABA_WEIGHTS, BankKind, aba_valid, iban_details, same_person, us_details
from payments.deposits import ALPHABET, new_reference, reference_in
from payments.states import MOVES, WithdrawalStatus, check_move

VALID_IBANS = [  # published examples (the banks' and the standard's own)
    "DE89 3704 0044 0532 0130 00",
    "GB82 WEST 1234 5698 7654 32",
    "FR14 2004 1010 0505 0001 3M02 606",
    "NL91ABNA0417164300",
    "CH9300762011623852957",
]
INVALID_IBANS = [
    "DE89370400440532013001",  # check digits do not match
    "GB82WEST1234569876543",  # one character short
    "XX89370400440532013000",  # no such country
    "NL91ABNA041716430",  # too short for the Netherlands
]
VALID_ROUTING = ["021000021", "011000015", "026009593", "121000358"]  # JPMorgan Chase, the Fed Boston, BofA, BofA CA
INVALID_ROUTING = ["021000022", "12345678", "0210000210", "abcdefghi", "111111111"]


@pytest.mark.parametrize("iban", VALID_IBANS)
def test_published_ibans_are_accepted_in_compact_form(iban: str) -> None:
    details = iban_details(iban)
    assert details.kind is BankKind.IBAN and details.account_number == iban.replace(" ", "")
    assert details.last4 == iban.replace(" ", "")[-4:]


@pytest.mark.parametrize("iban", INVALID_IBANS)
def test_invalid_ibans_are_refused_saying_why(iban: str) -> None:
    with pytest.raises(PaymentRefused, match="IBAN is not valid"):
        iban_details(iban)


def test_a_bic_must_be_well_formed_and_of_the_ibans_country() -> None:
    assert iban_details("DE89370400440532013000", "COBADEFFXXX").bic == "COBADEFFXXX"
    with pytest.raises(PaymentRefused, match="country"):
        iban_details("DE89370400440532013000", "ABNANL2A")
    with pytest.raises(PaymentRefused, match="BIC is not valid"):
        iban_details("DE89370400440532013000", "NOT A BIC")


@pytest.mark.parametrize("routing", VALID_ROUTING)
def test_published_routing_numbers_pass_the_aba_checksum(routing: str) -> None:
    details = us_details(routing, "000123456789")
    assert (details.kind, details.routing_number, details.last4) == (BankKind.US, routing, "6789")


@pytest.mark.parametrize("routing", INVALID_ROUTING)
def test_invalid_routing_numbers_are_refused(routing: str) -> None:
    with pytest.raises(PaymentRefused, match="routing number"):
        us_details(routing, "000123456789")


def test_a_us_account_number_has_4_to_17_digits() -> None:
    with pytest.raises(PaymentRefused, match="4 to 17 digits"):
        us_details("021000021", "12a45")


@given(st.text(alphabet="0123456789", min_size=8, max_size=8), st.integers(min_value=0, max_value=8), st.integers(1, 9))
def test_the_aba_check_digit_catches_any_single_wrong_digit(body: str, place: int, shift: int) -> None:
    check = (-sum(int(d) * w for d, w in zip(body, ABA_WEIGHTS, strict=False))) % 10
    routing = body + str(check)
    assert aba_valid(routing)
    wrong = routing[:place] + str((int(routing[place]) + shift) % 10) + routing[place + 1 :]
    assert not aba_valid(wrong)


def test_the_holder_must_be_the_verified_person_however_written() -> None:
    assert same_person("Zoë Marie Dupont", "ZOE DUPONT")  # case, accents, a middle name left out
    assert same_person("Jane Doe", "Doe, Jane")
    assert not same_person("Jane Doe", "John Doe")
    assert not same_person("Jane Doe", "Jane")  # one word is not enough
    assert not same_person("", "Jane Doe")


@given(st.integers(min_value=0, max_value=9), st.sampled_from(ALPHABET))
def test_a_deposit_reference_is_found_in_what_the_payer_wrote_and_a_typo_is_caught(place: int, typo: str) -> None:
    reference = new_reference()
    spaced = f"payment for {reference[:5].lower()} {reference[5:]} thanks"
    assert reference_in(spaced) == reference
    position = 2 + place  # a character after the prefix
    mistyped = reference[:position] + typo + reference[position + 1 :]
    assert reference_in(mistyped) == (reference if mistyped == reference else None)


@given(st.lists(st.sampled_from(list(WithdrawalStatus)), min_size=1, max_size=8))
def test_a_withdrawal_moves_only_along_its_edges(path: list[WithdrawalStatus]) -> None:
    current = WithdrawalStatus.REQUESTED
    for target in path:
        if target in MOVES[current]:
            check_move(current, target)
            current = target
        else:
            with pytest.raises(InvalidTransition):
                check_move(current, target)
    assert current.holds_money == (current in {"requested", "pending_review", "approved", "submitted"})
