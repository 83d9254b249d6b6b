"""Bank account details as an investor types them, checked before anything is stored (pure, no I/O).

- IBAN (with an optional BIC): checked by schwifty (country format, check digits, the bank code where the
  country publishes a registry); the BIC, when given, must be well formed and of the IBAN's country.
- US: the ABA routing number's checksum (3, 7, 1 weights over its nine digits, a multiple of 10) and an
  account number of 4 to 17 digits.
- The holder's name must be the investor's verified name, however written (case, accents, punctuation, word
  order; a middle name may be left out).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from core.errors import PaymentRefused

US_ACCOUNT = re.compile(r"\d{4,17}")
ROUTING = re.compile(r"\d{9}")
ABA_WEIGHTS = (3, 7, 1, 3, 7, 1, 3, 7, 1)


class BankKind(StrEnum):
    IBAN = "iban"  # SEPA and other IBAN countries
    US = "us"  # ABA routing number and account number (ACH, wire)


@dataclass(frozen=True)
class BankDetails:
    kind: BankKind
    country: str
    account_number: str  # the IBAN (compact) or the US account number: secret, stored sealed
    bic: str | None = None
    routing_number: str | None = None

    @property
    def last4(self) -> str:
        return self.account_number[-4:]

    @property
    def masked(self) -> str:
        return f"{self.kind.value.upper()} ...{self.last4}"


def iban_details(text: str, bic: str | None = None) -> BankDetails:
    try:
        iban = IBAN(text)
    except SchwiftyException as wrong:
        raise PaymentRefused(f"that IBAN is not valid ({_reason(wrong)})") from None
    code = None
    if bic:
        try:
            checked = BIC(bic)
        except SchwiftyException as wrong:
            raise PaymentRefused(f"that BIC is not valid ({_reason(wrong)})") from None
        if checked.country_code != iban.country_code:
            raise PaymentRefused("the BIC's country is not the IBAN's")
        code = checked.compact
    return BankDetails(BankKind.IBAN, iban.country_code, iban.compact, bic=code)


def us_details(routing: str, account: str) -> BankDetails:
    routing, account = routing.strip(), account.strip().replace(" ", "").replace("-", "")
    if not aba_valid(routing):
        raise PaymentRefused("that routing number is not valid (9 digits with a matching checksum)")
    if not US_ACCOUNT.fullmatch(account):
        raise PaymentRefused("a US account number has 4 to 17 digits")
    return BankDetails(BankKind.US, "US", account, routing_number=routing)


def aba_valid(routing: str) -> bool:
    if not ROUTING.fullmatch(routing):
        return False
    return sum(int(digit) * weight for digit, weight in zip(routing, ABA_WEIGHTS, strict=True)) % 10 == 0


def same_person(verified: str, holder: str) -> bool:
    """Whether the account holder's name is the verified name: the same words in any order, or all of the
    holder's words among the verified ones (a middle name left out), at least two of them."""
    known, given = _words(verified), _words(holder)
    if not given or not known:
        return False
    return sorted(given) == sorted(known) or (len(given) >= 2 and set(given) <= set(known))


def _words(name: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()
    return re.findall(r"[a-z0-9]+", plain)


def _reason(error: Exception) -> str:
    text = str(error).strip().rstrip(".")
    return text[:1].lower() + text[1:] if text else "it does not check out"
