"""The admin chat's money desk: /money shows the transfers in suspense and the payouts waiting for the bank;
`record`, `match`, `export` and `mark` act on them, each after a fresh code (admin.confirm_with_code), audited
under the admin's name.

    /money record TELEGRAM_ID AMOUNT BANK_REF     a deposit the bank statement shows
    /money match TRANSFER_ID TELEGRAM_ID          money in suspense is this investor's
    /money export                                 the approved payouts as pain.001 and ACH CSV files
    /money mark WITHDRAWAL_ID sent|settled|failed|returned [REASON]
    /money approve|reject WITHDRAWAL_ID [REASON]  a withdrawal waiting for a review, with the reason told
"""

from __future__ import annotations

import re
from decimal import Decimal
from uuid import UUID

from core import audit, user_service
from core.errors import InvalidCommand, NotFound
from core.pending_actions import Spend
from core.users import UserRecord
from payments.bank_details import BankKind
from payments.deposits import in_suspense
from payments.providers.manual import ach_csv, credit_transfer_file
from payments.states import WithdrawalStatus

from ..context import BotContext
from ..render import esc, usd

USAGE = (
    "/money [record TELEGRAM_ID AMOUNT BANK_REF | match TRANSFER_ID TELEGRAM_ID | export | mark ID OUTCOME"
    " | approve ID | reject ID REASON]"
)
MARKS = {
    "sent": WithdrawalStatus.SUBMITTED,
    "settled": WithdrawalStatus.SETTLED,
    "failed": WithdrawalStatus.FAILED,
    "returned": WithdrawalStatus.RETURNED,
}
AMOUNT = re.compile(r"\d{1,9}(\.\d{1,2})?")


async def overview(context: BotContext) -> str:
    services = context.services
    stray = await services.db.transact(in_suspense, readonly=True)
    waiting = await services.payments.to_export()
    lines = ["<b>Money</b>", f"Payouts approved, to export for the bank: {len(waiting)}"]
    lines += [f"Suspense: {usd(t.amount)} ref {esc(reference)} (<code>{t.id}</code>)" for t, reference in stray]
    lines.append(f"<code>{esc(USAGE)}</code>")
    return "\n".join(lines)


def plan(words: list[str]) -> dict[str, str]:
    """What a /money command asks for, checked, as a pending action's payload (the code confirms it)."""
    verb = words[0].lower() if words else ""
    if verb == "record" and len(words) >= 4 and words[1].isdigit() and AMOUNT.fullmatch(words[2]):
        return {"verb": "money_record", "target": words[1], "amount": words[2], "reason": " ".join(words[3:])}
    if verb == "match" and len(words) == 3 and words[2].isdigit():
        return {"verb": "money_match", "target": str(_uuid(words[1])), "reason": words[2]}
    if verb == "export" and len(words) == 1:
        return {"verb": "money_export", "target": "all", "reason": ""}
    if verb in ("approve", "reject") and len(words) >= 2:  # carried out by admin.confirm_with_code
        return {"verb": verb, "target": str(_uuid(words[1])), "reason": " ".join(words[2:])[:300]}
    if verb == "mark" and len(words) >= 3 and words[2].lower() in MARKS:
        return {"verb": "money_mark", "target": str(_uuid(words[1])), "outcome": words[2].lower(),
                "reason": " ".join(words[3:])}  # fmt: skip
    raise InvalidCommand("I cannot read that money command", USAGE)


async def carry_out(context: BotContext, admin_user: UserRecord, payload: dict[str, str], spend: Spend) -> str:
    """What the admin's code confirmed, with the code spent in its transaction."""
    services, who, verb = context.services, f"admin:{admin_user.id}", payload["verb"]
    payments = services.payments
    if verb == "money_record":
        owner = await _investor(context, int(payload["target"]))
        reference = payload["reason"] or "statement"
        transfer = await payments.record_deposit(owner, Decimal(payload["amount"]), reference, spending=spend)
        return f"Recorded: {usd(transfer.amount)} credited."
    if verb == "money_match":
        owner = await _investor(context, int(payload["reason"]))
        transfer = await payments.match_suspense(UUID(payload["target"]), owner, spending=spend)
        return f"Matched: {usd(transfer.amount)} credited."
    if verb == "money_mark":
        outcome = MARKS[payload["outcome"]]
        record = await payments.mark(UUID(payload["target"]), outcome, payload["reason"] or f"by {who}", spending=spend)
        return f"Withdrawal of {usd(record.amount)}: {record.status.value}."
    # An export is files sent to the admin, never one transaction with the code: spent first, it is asked again
    # if the process dies before they are out.
    await services.db.transact(spend)
    payouts = await payments.to_export()
    today = services.clock.now().date()
    sepa = [p for p in payouts if p.kind is BankKind.IBAN]
    us = [p for p in payouts if p.kind is BankKind.US]
    if sepa:
        xml = credit_transfer_file(services.settings, sepa, today)
        await context.bot.send_document(admin_user.telegram_id, xml, filename=f"pain001-{today}.xml")
    if us:
        await context.bot.send_document(admin_user.telegram_id, ach_csv(us).encode(), filename=f"ach-{today}.csv")
    count = len(sepa) + len(us)
    await services.db.transact(lambda uow: audit.record(uow, who, "payouts.exported", "all", count=count))
    return f"Exported {len(sepa)} IBAN and {len(us)} US payouts. Mark each sent once the bank has them."


async def _investor(context: BotContext, telegram_id: int) -> UUID:
    user = await context.services.db.transact(
        lambda uow: user_service.find_by_telegram_id(uow, telegram_id), readonly=True
    )
    if user is None:
        raise NotFound("investor", telegram_id)
    return user.id


def _uuid(text: str) -> UUID:
    try:
        return UUID(text)
    except ValueError:
        raise InvalidCommand(f"{text!r} is not an id", USAGE) from None
