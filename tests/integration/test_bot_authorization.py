"""Who may use what, every command for every kind of user: a stranger (never sent /start), a member still in
onboarding, an active investor, a frozen investor, and an admin; and buttons that name another investor's
withdrawal or copy find nothing."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from bot.access import Access
from bot.commands import COMMANDS
from core import user_service
from core.users import Role, UserStatus
from ledger import operations
from payments.bank_details import iban_details
from tests.botchat import BotDesk, onboard

STRANGER, MEMBER, INVESTOR, FROZEN, ADMIN = 9901, 9902, 9903, 9904, 9905
REFUSALS = {
    "stranger": "Please send /start to open your account first",
    "member": "This needs an open account",
    "frozen": "Your account is frozen",
    "admin": "This command is for admins",
}


async def test_every_command_for_every_kind_of_user(trading_bot: BotDesk) -> None:
    bot = trading_bot
    await bot.chat(MEMBER).send("/start")  # the terms are shown: onboarding has begun
    for telegram_id in (INVESTOR, FROZEN, ADMIN):
        await onboard(bot.chat(telegram_id))
    await bot.services.db.transact(lambda uow: _set(uow, FROZEN, status=UserStatus.FROZEN))
    await bot.services.db.transact(lambda uow: _set(uow, ADMIN, role=Role.ADMIN))
    people = {"member": MEMBER, "investor": INVESTOR, "frozen": FROZEN, "admin": ADMIN}
    for number, command in enumerate(COMMANDS):
        strangers = {"stranger": STRANGER + 1000 + number}  # a new one each time: /start would make them a member
        for who, telegram_id in (strangers | people).items():
            chat = bot.chat(telegram_id)
            await chat.replies(0)
            answers = await chat.send(f"/{command.name}")
            text = " ".join(answer["text"] or "" for answer in answers)
            refusal = _expected_refusal(command.access, who)
            if refusal is None:
                assert not any(r in text for r in REFUSALS.values()), (command.name, who, text)
            else:
                assert refusal in text, (command.name, who, text)


async def test_buttons_naming_another_investors_withdrawal_or_copy_find_nothing(trading_bot: BotDesk) -> None:
    bot = trading_bot
    owner_chat, other_chat = bot.chat(9911), bot.chat(9912)
    for chat in (owner_chat, other_chat):
        await onboard(chat)
    owner = await _user_id(bot, 9911)
    await bot.services.db.transact(lambda uow: operations.deposit(uow, owner, Decimal(5000), key="dep-authz"))
    account = await bot.services.payments.add_bank(owner, iban_details("DE89370400440532013000"), "Alice Smith")
    bot.clock.advance(timedelta(hours=25))
    withdrawal = await bot.services.payments.withdraw(owner, account.id, Decimal(2000), "authz")
    mine = (await other_chat.send("/withdrawals"))[0]
    for data in (f"wc:{withdrawal.id}", f"cp:{withdrawal.id}", f"ck:{withdrawal.id}", f"cl:{withdrawal.id}:1"):
        await other_chat.answer_to(await other_chat.press_data(mine["message_id"], data, forge=True))
    texts = " ".join(m["text"] for m in await other_chat.replies(4))
    assert texts.count("could not find that") == 4
    assert (await bot.services.payments.withdrawable(owner)) == Decimal(3000)  # still held for its owner


def _expected_refusal(access: Access, who: str) -> str | None:
    if who == "stranger":
        return None if access is Access.ANYONE else REFUSALS["stranger"]
    if who == "frozen":
        return REFUSALS["frozen"]  # the gate turns a frozen account away whatever it sends
    if access is Access.ADMIN:
        return None if who == "admin" else REFUSALS["admin"]
    if access is Access.INVESTOR and who == "member":
        return REFUSALS["member"]
    return None


async def _set(uow: Any, telegram_id: int, *, status: UserStatus | None = None, role: Role | None = None) -> None:
    user = await user_service.find_by_telegram_id(uow, telegram_id)
    assert user is not None
    if status is not None:
        await user_service.change_status(uow, user.id, status)
    if role is not None:
        await user_service.set_role(uow, user.id, role)


async def _user_id(bot: BotDesk, telegram_id: int) -> Any:
    user = await bot.services.db.transact(lambda uow: user_service.find_by_telegram_id(uow, telegram_id))
    assert user is not None
    return user.id
