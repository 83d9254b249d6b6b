"""Money in and out: /bank (list, add, remove), /deposit AMOUNT, /withdraw AMOUNT (the bank account by button)
and /withdrawals (with Cancel buttons). Adding a bank account and withdrawing each take a fresh code from the
authenticator: the bot asks for it, and the next 6-digit code sent confirms (security.on_code).

What waits for the code is a pending action; a bank account's number in it is sealed (the database never holds
it in plain text)."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, Update

from core import pending_actions, user_service
from core.crypto import FieldRef
from core.db import UnitOfWork
from core.errors import ActionUnavailable, InvalidCommand, NotFound
from core.users import UserRecord
from payments import withdrawals
from payments.bank_details import BankDetails, iban_details, us_details
from payments.states import WithdrawalStatus

from ..context import BotContext
from ..fresh_code import ADD_BANK, WITHDRAW, ask_for_code, confirmed_by_code, wait_for_code, waiting
from ..render import esc, usd

BANK_USAGE = "/bank add IBAN [BIC], or /bank add us ROUTING ACCOUNT, or /bank remove N"
PICK_BANK = "withdraw_pick"
CODE_KINDS = (ADD_BANK, WITHDRAW)
AMOUNT = re.compile(r"\$?(\d{1,9}(\.\d{1,2})?)")
CANCEL = re.compile(r"wc:([0-9a-f-]{36})")
PICK = re.compile(r"wp:([A-Za-z0-9_-]{8,32}):(\d{1,2})")
BIC_WORD = re.compile(r"[A-Za-z]{6}[A-Za-z0-9]{2}([A-Za-z0-9]{3})?")  # a bank's code after the IBAN


async def bank(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Your bank accounts; /bank add to add one (a fresh code confirms), /bank remove N."""
    assert user is not None
    words = context.args or []
    payments = context.services.payments
    if not words:
        accounts = await payments.banks(user.id)
        lines = ["<b>Your bank accounts</b>"] + [f"{n}. {esc(a.masked)}" for n, a in enumerate(accounts, 1)]
        if not accounts:
            lines.append("None yet.")
        lines.append(f"Add one: <code>{esc(BANK_USAGE)}</code>")
        await context.bot.send_message(user.telegram_id, "\n".join(lines))
        return
    verb = words[0].lower()
    if verb == "remove" and len(words) == 2 and words[1].isdigit():
        accounts = await payments.banks(user.id)
        number = int(words[1])
        if not 0 < number <= len(accounts):
            raise InvalidCommand("there is no bank account with that number", "/bank remove N (see /bank)")
        removed = await payments.remove_bank(user.id, accounts[number - 1].id)
        await context.bot.send_message(user.telegram_id, f"Removed {esc(removed.masked)}.")
        return
    if verb != "add" or len(words) < 2:
        raise InvalidCommand("I can list, add or remove bank accounts", BANK_USAGE)
    details = _details(words[1:])
    services = context.services
    name = (await services.db.transact(
        lambda uow: user_service.read_personal_data(uow, services.cipher, user.id), readonly=True
    )).full_name or ""  # fmt: skip
    sealed = services.cipher.keyring.seal(json.dumps(details.__dict__ | {"kind": details.kind.value}), _where(user))
    payload = {"details": sealed.hex(), "holder": name}
    await wait_for_code(
        context, user, ADD_BANK, payload,
        f"Add {esc(details.masked)} in the name of {esc(name)}? To confirm, send the 6-digit code from your "
        "authenticator app now.",
    )  # fmt: skip


async def deposit(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """How to pay in: the platform's bank details and your own reference, for /deposit AMOUNT."""
    assert user is not None
    amount = _amount(context.args or [], "/deposit AMOUNT")
    found = await context.services.payments.deposit(user.id, amount)
    settings = context.services.settings
    await context.bot.send_message(
        user.telegram_id,
        f"<b>Deposit {usd(found.amount)}</b> by bank transfer to:\n<pre>Bank       {esc(found.bank_name)}\n"
        f"Account    {esc(settings.payments_bank_holder)}\nIBAN       {esc(found.iban)}\nBIC        {esc(found.bic)}\n"
        f"Reference  {esc(found.reference)}</pre>\nWrite the reference exactly: it is how the money finds you. "
        f"You can trade with it as soon as it arrives; it can be withdrawn {settings.payments_deposit_hold_days} "
        "business days later.",
    )


async def withdraw(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """/withdraw AMOUNT: pick the bank account, then confirm with a fresh code."""
    assert user is not None
    amount = _amount(context.args or [], "/withdraw AMOUNT")
    payments, services = context.services.payments, context.services
    available = await payments.withdrawable(user.id)
    accounts = await payments.banks(user.id)
    if not accounts:
        raise InvalidCommand("add a bank account first", BANK_USAGE)
    ttl = timedelta(seconds=services.settings.bot_confirm_seconds)
    payload = {"amount": str(amount), "banks": [str(a.id) for a in accounts]}
    action = await services.db.transact(lambda uow: pending_actions.offer(uow, user.id, PICK_BANK, payload, ttl))
    buttons = [[InlineKeyboardButton(a.masked, callback_data=f"wp:{action.token}:{n}")] for n, a in enumerate(accounts)]
    await context.bot.send_message(
        user.telegram_id,
        f"Withdraw {usd(amount)} (you can withdraw up to {usd(available)} now) to which account?",
        reply_markup=InlineKeyboardMarkup(buttons),
    )


async def on_pick(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """The bank account for a withdrawal: wp:<token>:<n>."""
    assert user is not None
    query = update.callback_query
    assert query is not None
    found = PICK.fullmatch(query.data or "")
    if found is None:
        raise ActionUnavailable("unknown")
    ttl = timedelta(seconds=context.services.settings.bot_confirm_seconds)

    async def pick(uow: UnitOfWork) -> tuple[dict[str, str], str]:
        # The pick is spent in the transaction that sets the withdrawal waiting for its code: a process dying
        # between the two would leave a button that says "already used" and nothing waiting.
        picked = await pending_actions.take(uow, found.group(1), user.id, PICK_BANK)
        banks, number = picked.payload["banks"], int(found.group(2))
        if number >= len(banks):
            raise ActionUnavailable("unknown")
        payload = {"amount": picked.payload["amount"], "bank": banks[number], "key": f"bot/{picked.token}"}
        return payload, await ask_for_code(uow, user.id, WITHDRAW, payload, ttl)

    payload, replaced = await context.services.db.transact(pick)
    await query.answer()
    await query.edit_message_text(
        f"{replaced}Withdraw {usd(Decimal(payload['amount']))}: to confirm, send the 6-digit code from your "
        "authenticator app now."
    )


async def confirm_with_code(update: Update, context: BotContext, user: UserRecord, kind: str, code: str) -> None:
    """The fresh code that confirms what waits for one: a bank account to add, or a withdrawal."""
    services, payments = context.services, context.services.payments
    # The code's action is spent in the transaction of what it confirms: a process dying between the two leaves
    # it waiting for the next code, never spent for nothing.
    async with confirmed_by_code(context, user, kind, code) as (confirmed, spend):
        payload = confirmed.payload
        if kind == ADD_BANK:
            opened = json.loads(services.cipher.keyring.open(bytes.fromhex(payload["details"]), _where(user)))
            added = await payments.add_bank(user.id, _rebuilt(opened), payload["holder"], spending=spend)
            text = f"Added {esc(added.masked)}. It can receive withdrawals from {added.usable_from:%Y-%m-%d %H:%M} UTC."
        else:
            record = await payments.withdraw(
                user.id, UUID(payload["bank"]), Decimal(payload["amount"]), payload["key"], spending=spend
            )
            text = f"Withdrawal of {usd(record.amount)}: {_status_words(record.status)}. /withdrawals shows it."
    await context.bot.send_message(user.telegram_id, text)


async def waiting_for_code(context: BotContext, user: UserRecord) -> str | None:
    """What a code would confirm now (a bank account or a withdrawal), if anything."""
    for kind in CODE_KINDS:
        if await waiting(context, user, kind):
            return kind
    return None


async def show_withdrawals(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """Your recent withdrawals and where each is, with Cancel on those not yet sent."""
    assert user is not None
    found = await context.services.db.transact(lambda uow: withdrawals.of_owner(uow, user.id), readonly=True)
    if not found:
        await context.bot.send_message(user.telegram_id, "No withdrawals yet. /withdraw AMOUNT starts one.")
        return
    lines, buttons = ["<b>Your withdrawals</b>"], []
    for number, record in enumerate(found, 1):
        reason = f" ({esc(record.reason)})" if record.reason else ""
        lines.append(
            f"{number}. {record.created_at:%Y-%m-%d} {usd(record.amount)}: {_status_words(record.status)}{reason}"
        )
        if record.status in (WithdrawalStatus.PENDING_REVIEW, WithdrawalStatus.APPROVED) and not record.provider_ref:
            buttons.append([InlineKeyboardButton(f"Cancel {number}", callback_data=f"wc:{record.id}")])
    markup = InlineKeyboardMarkup(buttons) if buttons else None
    await context.bot.send_message(user.telegram_id, "\n".join(lines), reply_markup=markup)


async def on_cancel(update: Update, context: BotContext, user: UserRecord | None) -> None:
    """A withdrawal's Cancel button: wc:<id> (another's withdrawal is not found)."""
    assert user is not None
    query = update.callback_query
    assert query is not None
    found = CANCEL.fullmatch(query.data or "")
    if found is None:
        raise NotFound("withdrawal", query.data)
    record = await context.services.payments.cancel(user.id, UUID(found.group(1)))
    await query.answer("Cancelled")
    await context.bot.send_message(
        user.telegram_id, f"Withdrawal of {usd(record.amount)} cancelled: the money is back."
    )


STATUS_WORDS = {
    WithdrawalStatus.REQUESTED: "requested",
    WithdrawalStatus.PENDING_REVIEW: "waiting for a review",
    WithdrawalStatus.APPROVED: "approved, going to the bank",
    WithdrawalStatus.SUBMITTED: "sent to the bank",
    WithdrawalStatus.SETTLED: "paid",
    WithdrawalStatus.REJECTED: "refused",
    WithdrawalStatus.CANCELLED: "cancelled",
    WithdrawalStatus.FAILED: "failed, the money is back",
    WithdrawalStatus.RETURNED: "returned by your bank, the money is back",
}


def _status_words(status: WithdrawalStatus) -> str:
    return STATUS_WORDS[status]


def _details(words: list[str]) -> BankDetails:
    if words[0].lower() == "us":
        if len(words) != 3:
            raise InvalidCommand("a US account is a routing number and an account number", BANK_USAGE)
        return us_details(words[1], words[2])
    if len(words) > 1 and BIC_WORD.fullmatch(words[-1]):
        return iban_details("".join(words[:-1]), words[-1].upper())
    return iban_details("".join(words))


def _rebuilt(opened: dict[str, str | None]) -> BankDetails:
    if opened["kind"] == "us":
        return us_details(opened["routing_number"] or "", opened["account_number"] or "")
    return iban_details(opened["account_number"] or "", opened["bic"])


def _amount(words: list[str], usage: str) -> Decimal:
    found = AMOUNT.fullmatch(words[0].replace(",", "")) if len(words) == 1 else None
    if found is None:
        raise InvalidCommand("please give one amount in dollars", usage)
    return Decimal(found.group(1))


def _where(user: UserRecord) -> FieldRef:
    return FieldRef("pending_actions", "bank_details", str(user.id))
