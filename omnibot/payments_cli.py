"""`omnibot payments ...`: the operator's hand on payments from a shell (the admin chat's /money does the same):
review withdrawals, export the manual provider's payment files and report what the bank did, record deposits
and match money in suspense, and record transfers between the bank and IB."""

from __future__ import annotations

import argparse
import asyncio
import functools
import getpass
import logging
from collections.abc import Callable, Coroutine
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

from core import user_service
from core.errors import NotFound
from omnibot.bootstrap import Platform, bootstrap, payment_provider
from payments import funding, withdrawals
from payments.bank_details import BankKind
from payments.desk import PaymentDesk
from payments.providers.manual import ach_csv, credit_transfer_file
from payments.states import WithdrawalStatus

log = logging.getLogger("omnibot")
MARKS = {
    "sent": WithdrawalStatus.SUBMITTED,
    "settled": WithdrawalStatus.SETTLED,
    "failed": WithdrawalStatus.FAILED,
    "returned": WithdrawalStatus.RETURNED,
}


def add_commands(commands: Any) -> None:
    payments = commands.add_parser("payments", help="withdrawals, deposits and broker funding, by hand")
    verbs = payments.add_subparsers(dest="payments_command", required=True)
    verbs.add_parser("pending", help="withdrawals waiting for a review or for the bank").set_defaults(
        run=_run(_pending)
    )
    review = verbs.add_parser("review", help="approve or reject a withdrawal waiting for a review")
    review.add_argument("withdrawal")
    review.add_argument("decision", choices=["approve", "reject"])
    review.add_argument("--reason", default="")
    review.set_defaults(run=_run(_review))
    export = verbs.add_parser("export", help="write the approved manual payouts as pain.001 and ACH CSV files")
    export.add_argument("--out", type=Path, default=Path("."))
    export.set_defaults(run=_run(_export))
    mark = verbs.add_parser("mark", help="report what the bank did with a manual payout")
    mark.add_argument("withdrawal")
    mark.add_argument("outcome", choices=sorted(MARKS))
    mark.add_argument("--reason", default="")
    mark.set_defaults(run=_run(_mark))
    deposit = verbs.add_parser("deposit", help="record a deposit the bank statement shows")
    deposit.add_argument("telegram_id", type=int)
    deposit.add_argument("amount")
    deposit.add_argument("bank_ref", help="the statement line's reference (recorded once)")
    deposit.set_defaults(run=_run(_deposit))
    match = verbs.add_parser("match", help="credit a transfer in suspense to its investor")
    match.add_argument("transfer")
    match.add_argument("telegram_id", type=int)
    match.set_defaults(run=_run(_match))
    fund = verbs.add_parser("fund", help="record money sent between the bank and IB")
    fund.add_argument("direction", choices=["to-ib", "from-ib"])
    fund.add_argument("amount")
    fund.add_argument("--note", default="")
    fund.set_defaults(run=_run(_fund))
    arrived = verbs.add_parser("arrived", help="book a transfer between the bank and IB as arrived")
    arrived.add_argument("transfer")
    arrived.set_defaults(run=_run(_arrived))


Action = Callable[[Platform, PaymentDesk, argparse.Namespace], Coroutine[Any, Any, None]]


def _run(action: Action) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        async def main() -> None:
            platform = bootstrap(configure_logs=True)
            settings = platform.settings
            desk = PaymentDesk(platform.db, settings, platform.field_cipher(), payment_provider(settings))
            try:
                await action(platform, desk, args)
            finally:
                await platform.close()

        asyncio.run(main())

    return run


async def _pending(platform: Platform, desk: PaymentDesk, _args: argparse.Namespace) -> None:
    for status in (WithdrawalStatus.PENDING_REVIEW, WithdrawalStatus.APPROVED, WithdrawalStatus.SUBMITTED):
        found = await platform.db.transact(functools.partial(withdrawals.in_status, status=status), readonly=True)
        for record in found:
            print(f"{status.value:15} {record.id} {record.amount:>12} USD  {record.created_at:%Y-%m-%d %H:%M}")


async def _review(platform: Platform, desk: PaymentDesk, args: argparse.Namespace) -> None:
    record = await desk.review(UUID(args.withdrawal), approve=args.decision == "approve", admin=_operator(),
                               reason=args.reason)  # fmt: skip
    log.info("withdrawal %s is %s", record.id, record.status.value)


async def _export(platform: Platform, desk: PaymentDesk, args: argparse.Namespace) -> None:
    payouts = await desk.to_export()
    sepa = [p for p in payouts if p.kind is BankKind.IBAN]
    us = [p for p in payouts if p.kind is BankKind.US]
    today = platform.clock.now().date()
    args.out.mkdir(parents=True, exist_ok=True)
    if sepa:
        (args.out / f"pain001-{today}.xml").write_bytes(credit_transfer_file(platform.settings, sepa, today))
    if us:
        (args.out / f"ach-{today}.csv").write_text(ach_csv(us))
    log.info("exported %d IBAN and %d US payouts to %s; mark each sent once the bank has them", len(sepa), len(us),
             args.out)  # fmt: skip


async def _mark(platform: Platform, desk: PaymentDesk, args: argparse.Namespace) -> None:
    record = await desk.mark(UUID(args.withdrawal), MARKS[args.outcome], args.reason or f"by {_operator()}")
    log.info("withdrawal %s is %s", record.id, record.status.value)


async def _deposit(platform: Platform, desk: PaymentDesk, args: argparse.Namespace) -> None:
    owner = await _investor(platform, args.telegram_id)
    transfer = await desk.record_deposit(owner, Decimal(args.amount), args.bank_ref)
    log.info("deposit %s of %s USD credited", transfer.id, transfer.amount)


async def _match(platform: Platform, desk: PaymentDesk, args: argparse.Namespace) -> None:
    owner = await _investor(platform, args.telegram_id)
    transfer = await desk.match_suspense(UUID(args.transfer), owner)
    log.info("transfer %s of %s USD credited", transfer.id, transfer.amount)


async def _fund(platform: Platform, desk: PaymentDesk, args: argparse.Namespace) -> None:
    to_ib = args.direction == "to-ib"
    sent = await platform.db.transact(lambda uow: funding.record_sent(uow, Decimal(args.amount), to_ib=to_ib,
                                                                       note=args.note))  # fmt: skip
    log.info("transfer %s recorded as sent; run `omnibot payments arrived %s` when it is there", sent, sent)


async def _arrived(platform: Platform, desk: PaymentDesk, args: argparse.Namespace) -> None:
    await platform.db.transact(lambda uow: funding.mark_arrived(uow, UUID(args.transfer)))
    log.info("transfer %s booked as arrived", args.transfer)


async def _investor(platform: Platform, telegram_id: int) -> UUID:
    user = await platform.db.transact(lambda uow: user_service.find_by_telegram_id(uow, telegram_id), readonly=True)
    if user is None:
        raise NotFound("investor with Telegram id", telegram_id)
    return user.id


def _operator() -> str:
    return f"operator {getpass.getuser()}"
