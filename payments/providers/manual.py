"""The manual provider: the operator pays withdrawals from the platform's bank. Approved withdrawals wait to be
exported: IBAN ones as an ISO 20022 pain.001 credit transfer file for the bank (built and checked against the
schema by sepaxml), US ones as a CSV for the bank's ACH upload. The admin then marks them sent, and later
settled or returned (as the bank statement shows)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from datetime import date, datetime

from sepaxml import SepaTransfer  # type: ignore[import-untyped]  # no type hints of its own

from core.config import Settings
from core.db import UnitOfWork
from ledger.money import CENT

from ..bank_details import BankKind
from .base import Payout, ProviderEvent

NAME = "manual"


class ManualProvider:
    name = NAME
    sends = False

    async def submit(self, payout: Payout) -> None:
        return None  # it waits for the operator's export

    async def due(self, uow: UnitOfWork, now: datetime) -> list[ProviderEvent]:
        return []  # the admin reports what the bank did


def credit_transfer_file(settings: Settings, payouts: Sequence[Payout], execution: date) -> bytes:
    """One pain.001.001.03 file for the IBAN payouts, from the platform's account (schema-checked)."""
    config = {
        "name": settings.payments_bank_holder,
        "IBAN": settings.payments_bank_iban,
        "BIC": settings.payments_bank_bic,
        "batch": True,
        "currency": settings.payments_payout_currency,
    }
    transfer = SepaTransfer(config, clean=True)
    for payout in payouts:
        if payout.kind is not BankKind.IBAN:
            raise ValueError("a credit transfer file carries IBAN payouts only")
        transfer.add_payment(
            {
                "name": payout.holder,
                "IBAN": payout.account_number,
                "BIC": payout.bic or "NOTPROVIDED",
                "amount": int(payout.amount / CENT),
                "execution_date": execution,
                "description": f"Omnibot withdrawal {payout.withdrawal_id}",
                "endtoend_id": payout.withdrawal_id.hex[:35],
            }
        )
    exported: bytes = transfer.export(validate=True)
    return exported


def ach_csv(payouts: Sequence[Payout]) -> str:
    """The US payouts, one row each, for the bank's ACH upload."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["withdrawal_id", "holder", "routing_number", "account_number", "amount_usd"])
    for payout in payouts:
        if payout.kind is not BankKind.US:
            raise ValueError("the ACH file carries US payouts only")
        writer.writerow([payout.withdrawal_id, payout.holder, payout.routing_number, payout.account_number,
                         f"{payout.amount:.2f}"])  # fmt: skip
    return out.getvalue()
