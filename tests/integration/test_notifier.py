"""The notifier under a burst: 500 notifications to 50 users through the emulator with Telegram's own limits.
Nothing is lost or sent twice, each chat gets its messages in order, and the flood limits are respected."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from sqlalchemy import func, select

from bot.app import build_application
from bot.emulator.server import Emulator
from bot.notifier import OUTBOX, Notifier
from bot.services import Services
from core import user_service
from core.clock import ManualClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database, UnitOfWork
from core.outbox import Message, publish
from core.users import Role, UserStatus
from tests.botchat import TOKEN
from tests.support import eventually

USERS, EACH = 50, 10


async def test_a_burst_of_500_notifications_to_50_users_arrives_whole_and_in_order(
    db: Database, clock: ManualClock, cipher: FieldCipher
) -> None:
    emulator = Emulator(TOKEN)  # Telegram's limits as they are: 30 a second, about 1 a second per chat
    await emulator.start("127.0.0.1", 0)
    services = Services(Settings(), db, clock, cipher)
    application = build_application(services, TOKEN, emulator.base_url)
    await application.initialize()
    chats = [8000 + n for n in range(USERS)]

    async def write(uow: UnitOfWork) -> None:
        messages = []
        for chat in chats:
            emulator.world.user(chat)
            owner = (await user_service.register(uow, chat)).id
            messages += [
                Message(
                    "margin.maintenance_breach",
                    f"burst/{chat}/{n}",
                    {
                        "owner_id": str(owner),
                        "equity": str(n),
                        "loan": "0",
                        "maintenance_requirement": "100",
                        "excess_liquidity": "-1",
                    },
                )
                for n in range(EACH)
            ]
        await publish(uow, messages)

    await db.transact(write)
    notifier = Notifier(services, application.bot, idle_seconds=0.05)
    notifier.start()
    try:
        await eventually(lambda: _all_sent(db), within=120, what="every notification sent")
    finally:
        await notifier.stop()
        await application.shutdown()
        await emulator.stop()

    for chat in chats:
        texts = [m.text for m in emulator.world.chats[chat]]
        equities = [Decimal(text.split("equity $")[1].split(" ")[0]) for text in texts]
        assert equities == [Decimal(n) for n in range(EACH)]  # each once, in order
    assert emulator.world.refused_for_flood <= USERS * EACH // 20  # paced, not hammering: a 429 now and then


async def _all_sent(db: Database) -> bool:
    async def waiting(uow: UnitOfWork) -> int:
        query = select(func.count()).select_from(OUTBOX).where(OUTBOX.c.processed_at.is_(None))
        return int((await uow.connection.execute(query)).scalar_one())

    return await db.transact(waiting, readonly=True) == 0


async def test_what_is_for_the_admins_reaches_each_admin_and_no_investor(
    db: Database, clock: ManualClock, cipher: FieldCipher
) -> None:
    emulator = Emulator(TOKEN)
    await emulator.start("127.0.0.1", 0)
    services = Services(Settings(), db, clock, cipher)
    application = build_application(services, TOKEN, emulator.base_url)
    await application.initialize()

    async def people(uow: UnitOfWork) -> None:
        for chat, admin in ((9101, True), (9102, True), (9103, False)):
            emulator.world.user(chat)
            user = await user_service.register(uow, chat)
            for status in (UserStatus.PENDING_KYC, UserStatus.ACTIVE):
                await user_service.change_status(uow, user.id, status)
            if admin:
                await user_service.set_role(uow, user.id, Role.ADMIN)
        facts = {"kind": "position", "key": "265598", "books": "10", "ib": "15", "note": "the books hold 10, IB 15"}
        await publish(uow, [Message("admin.reconciliation_break", "break/1", facts)])

    await db.transact(people)
    notifier = Notifier(services, application.bot, idle_seconds=0.05)
    notifier.start()
    try:
        await eventually(lambda: _all_sent(db), within=20, what="the alert delivered")
    finally:
        await notifier.stop()
        await application.shutdown()
        await emulator.stop()
    for chat, told in ((9101, True), (9102, True), (9103, False)):
        texts = [m.text for m in emulator.world.chats.get(chat, [])]
        assert any("Reconciliation break" in text for text in texts) is told


async def test_a_telegram_outage_keeps_the_notices_until_they_can_be_delivered_in_order(
    db: Database, clock: ManualClock, cipher: FieldCipher
) -> None:
    """Telegram answering 502 is not a refusal: the notice waits (its claim lapses) and goes once it is back,
    once; the chat's next notice waits behind it, so the two arrive in order. Only a request Telegram refuses for
    good (a BadRequest) is given up."""
    emulator = Emulator(TOKEN)
    await emulator.start("127.0.0.1", 0)
    services = Services(Settings(), db, clock, cipher)
    application = build_application(services, TOKEN, emulator.base_url)
    await application.initialize()
    emulator.world.user(9201)
    facts = {"owner_id": "", "loan": "0", "maintenance_requirement": "100", "excess_liquidity": "-1"}

    owner = str((await db.transact(lambda uow: user_service.register(uow, 9201))).id)

    async def write(uow: UnitOfWork, numbers: tuple[int, ...]) -> None:
        notices = [Message("margin.maintenance_breach", f"outage/{n}", facts | {"owner_id": owner, "equity": str(n)})
                   for n in numbers]  # fmt: skip
        await publish(uow, notices)

    await db.transact(lambda uow: write(uow, (1, 2)))
    notifier = Notifier(services, application.bot, monotonic=lambda: clock.now().timestamp())
    try:
        emulator.world.down = True
        assert await notifier.deliver_due() == 0
        emulator.world.down = False
        clock.advance(timedelta(seconds=5))
        assert await notifier.deliver_due() == 0  # both still claimed: the second waits behind the first
        await db.transact(lambda uow: write(uow, (3,)))
        assert await notifier.deliver_due() == 0  # a newer one does not overtake them either
        clock.advance(timedelta(minutes=2))  # the claim lapses
        for _ in range(3):
            assert await notifier.deliver_due() == 1
            clock.advance(timedelta(seconds=5))
        assert await _all_sent(db)
    finally:
        await application.shutdown()
        await emulator.stop()
    assert [m.text.split("equity $")[1].split(" ")[0] for m in emulator.world.chats[9201]] == ["1.00", "2.00", "3.00"]
