"""Omnibot spread over several processes on one PostgreSQL database (`omnibot run --role ...`, real
subprocesses): one broker process is elected and the others stand by, a standby takes over a killed leader in
the middle of an order without losing or doubling a fill, and several workers share the notifications without
sending one twice. The simulator and the Telegram emulator run in the test's own process."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import httpx
import pyotp
import pytest
from sqlalchemy import func, select

from bot.emulator.server import Emulator
from bot.webhook import SECRET_HEADER
from broker.leadership import leader
from broker.link import BrokerLink
from broker.order_requests import OrderRequest
from broker.order_states import OrderSide, OrderStatus
from broker.order_store import EXECUTIONS, OrderRecord, order_by_id
from broker.orders import Trading
from broker.sim.gateway import GatewaySimulator
from core import two_factor, user_service
from core.clock import SystemClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database
from core.models import OutboxMessage
from core.outbox import Message, publish
from core.users import UserStatus
from core.wakeups import Wakeups
from ledger import operations
from ledger.accounts import AccountKind, Asset
from tests.botchat import Chat
from tests.conftest import make_database
from tests.integration.processes import Processes, RoundRobin, free_port
from tests.support import assert_books_whole, balance, eventually, new_investor

AAPL = 265598
SIM_CASH = Decimal(1_000_000)
TOKEN = "424242:roles-test-token"


@dataclass
class Platform:
    """The test's own view of the shared database: it places orders as a bot process would."""

    db: Database
    settings: Settings
    trading: Trading
    cipher: FieldCipher

    async def investor(self, cash: Decimal) -> UUID:
        owner = await new_investor(self.db)
        for status in (UserStatus.PENDING_KYC, UserStatus.ACTIVE):
            await self.db.transact(lambda uow, s=status: user_service.change_status(uow, owner, s))
        enrolment = await self.db.transact(
            lambda uow: two_factor.begin_enrolment(uow, self.cipher, self.settings, owner, "investor")
        )
        code = pyotp.TOTP(enrolment.secret).now()
        await self.db.transact(lambda uow: two_factor.confirm_enrolment(uow, self.cipher, self.settings, owner, code))
        await self.db.transact(lambda uow: operations.deposit(uow, owner, cash, key=f"dep-{owner}"))
        return owner

    async def order(self, order_id: UUID) -> OrderRecord:
        found = await self.db.transact(lambda uow: order_by_id(uow, order_id), readonly=True)
        assert found is not None
        return found

    async def leader(self) -> Any:
        return await self.db.transact(leader, readonly=True)


@pytest.fixture
async def platform(
    new_url: Callable[[str], Any], simulator: GatewaySimulator, processes: Processes
) -> AsyncIterator[Platform]:
    simulator.account.cash = SIM_CASH
    async with new_url("postgresql") as url:
        processes.env |= {
            "OMNIBOT_DATABASE_URL": url,
            "OMNIBOT_IB_PORT": str(simulator.port),
            "OMNIBOT_IB_CLIENT_ID": "31",
            "OMNIBOT_IB_RECONNECT_MIN_SECONDS": "0.2",
            "OMNIBOT_IB_RECONNECT_MAX_SECONDS": "1",
            "OMNIBOT_IB_COMMISSION_WAIT_SECONDS": "0.5",
        }
        settings = Settings(**{key.removeprefix("OMNIBOT_").lower(): value for key, value in processes.env.items()})
        db = make_database(url, SystemClock())
        wakeups = Wakeups(db.libpq_url())
        await wakeups.start()
        link = BrokerLink(db, wakeups)
        trading = Trading(db, link, settings, wake_router=link.wake_router, send_block=link.send_block)
        try:
            yield Platform(db, settings, trading, FieldCipher.from_settings(settings))
        finally:
            processes.stop_all()  # before the database is dropped under them
            await wakeups.stop()
            await db.dispose()


def _pid(holder: str) -> int:
    return int(holder.rpartition(":")[2])


async def test_of_two_broker_processes_exactly_one_connects_to_ib(
    platform: Platform, simulator: GatewaySimulator, processes: Processes
) -> None:
    brokers = [processes.start("broker"), processes.start("broker")]
    started = {process.pid for process in brokers}
    await eventually(lambda: len(simulator.clients) == 1, within=60, what="a broker process connected")
    await asyncio.sleep(3)  # the standby stays standing by
    assert simulator.sessions_opened == 1 and len(simulator.clients) == 1
    elected = await platform.leader()
    assert elected.epoch == 1 and _pid(elected.holder) in started
    assert elected.status["state"] == "ready"
    leader_process = next(process for process in brokers if process.pid == _pid(elected.holder))
    standby = next(process for process in brokers if process is not leader_process)
    async with httpx.AsyncClient() as http:
        ready = (await http.get(f"http://127.0.0.1:{processes.port_of(leader_process)}/readyz")).json()
        assert ready["ready"] and ready["checks"]["broker"]["detail"] == "leading (epoch 1); IB ready"
        ready = (await http.get(f"http://127.0.0.1:{processes.port_of(standby)}/readyz")).json()
        assert ready["ready"] and ready["checks"]["broker"]["detail"] == "standing by"
        scraped = (await http.get(f"http://127.0.0.1:{processes.port_of(leader_process)}/metrics")).text
        assert "omnibot_broker_leader 1.0" in scraped
        assert 'omnibot_ib_connection{omnibot_ib_connection="ready"} 1.0' in scraped


async def test_a_standby_takes_over_a_killed_leader_mid_order_and_books_every_fill_once(
    platform: Platform, simulator: GatewaySimulator, processes: Processes
) -> None:
    first = processes.start("broker")
    await eventually(lambda: len(simulator.clients) == 1, within=60, what="the first broker connected")
    processes.start("broker")  # the standby
    owner = await platform.investor(Decimal(100_000))
    simulator.plan_next_order(slices=[Decimal(3), Decimal(3), Decimal(4)])
    request = OrderRequest(owner, "roles-1", "AAPL", OrderSide.BUY, 10)
    order = await platform.trading.place_order(request)  # qualified and quoted by the broker process

    async def routed() -> bool:
        return simulator.desk.highest_order_id > 0 and (await platform.order(order.id)).status is OrderStatus.SUBMITTED

    await eventually(routed, within=15, what="the order reached IB")
    simulator.step()  # 3 shares
    await eventually(lambda: _filled(platform, order.id, 3), within=10, what="the first fill booked")

    assert _pid((await platform.leader()).holder) == first.pid
    first.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    await eventually(lambda: not simulator.clients, within=5, what="IB saw the leader go")
    simulator.step()  # 3 more shares, while no broker process is connected

    async def taken_over() -> bool:
        return len(simulator.clients) == 1 and (await platform.leader()).epoch == 2

    await eventually(taken_over, within=15, what="the standby took over")
    assert time.monotonic() - killed < 10
    await eventually(lambda: _filled(platform, order.id, 6), within=10, what="the missed fill recovered")
    simulator.step()  # the last 4
    await eventually(lambda: _filled(platform, order.id, 10), within=10, what="the order filled")

    done = await platform.order(order.id)
    assert done.status is OrderStatus.FILLED and done.filled_quantity == 10
    booked = await platform.db.transact(
        lambda uow: uow.connection.scalar(select(func.count()).select_from(EXECUTIONS)), readonly=True
    )
    assert booked == 3  # each execution once, none lost
    await assert_books_whole(platform.db)
    shares = await balance(platform.db, AccountKind.BROKER_POSITION, Asset.instrument(AAPL))
    assert shares == simulator.account.holdings[AAPL].quantity == 10
    assert await balance(platform.db, AccountKind.BROKER_CASH, Asset.cash()) == simulator.account.cash - SIM_CASH


async def _filled(platform: Platform, order_id: UUID, quantity: int) -> bool:
    return (await platform.order(order_id)).filled_quantity >= quantity


async def test_several_workers_send_each_notification_exactly_once(platform: Platform, processes: Processes) -> None:
    emulator = Emulator(TOKEN, chat_burst=1000)
    await emulator.start("127.0.0.1", 0)
    try:
        chats = list(range(9_100, 9_130))
        owners = {}
        for chat in chats:
            emulator.world.user(chat)
            owners[chat] = (await platform.db.transact(lambda uow, c=chat: user_service.register(uow, c))).id
        notes = [
            Message("news.broadcast", f"roles/{chat}/{n}", {"owner_id": str(owners[chat]), "text": f"note {n}"})
            for n in range(4)
            for chat in chats
        ]
        await platform.db.transact(lambda uow: publish(uow, notes))
        for _ in range(3):
            processes.start("worker", OMNIBOT_TELEGRAM_TOKEN=TOKEN, OMNIBOT_TELEGRAM_BASE_URL=emulator.base_url)
        await eventually(lambda: _all_processed(platform.db), within=90, what="every note handled")
        sent = Counter(
            (chat, message.text) for chat in chats for message in emulator.world.chats[chat] if message.from_bot
        )
        assert sent == Counter({(chat, f"note {n}"): 1 for chat in chats for n in range(4)})
    finally:
        await emulator.stop()


async def _all_processed(db: Database) -> bool:
    outbox = OutboxMessage.__table__
    waiting = select(func.count()).select_from(outbox).where(outbox.c.processed_at.is_(None))  # type: ignore[attr-defined]
    return await db.transact(lambda uow: uow.connection.scalar(waiting), readonly=True) == 0


SECRET = "webhook-secret-of-the-test"


async def test_two_bot_processes_share_the_updates_of_one_webhook(platform: Platform, processes: Processes) -> None:
    emulator = Emulator(TOKEN, chat_burst=1000)
    await emulator.start("127.0.0.1", 0)
    ports = [free_port(), free_port()]
    balancer = RoundRobin([f"http://127.0.0.1:{port}" for port in ports])
    url = await balancer.start()
    try:
        for port in ports:
            processes.start(
                "bot",
                OMNIBOT_TELEGRAM_TOKEN=TOKEN,
                OMNIBOT_TELEGRAM_BASE_URL=emulator.base_url,
                OMNIBOT_TELEGRAM_WEBHOOK_URL=f"{url}/telegram/webhook",
                OMNIBOT_TELEGRAM_WEBHOOK_SECRET=SECRET,
                OMNIBOT_HTTP_PORT=str(port),
            )
        async with httpx.AsyncClient(base_url=emulator.url, timeout=30) as http:

            async def both_ready() -> bool:
                for port in ports:
                    with contextlib.suppress(httpx.HTTPError):
                        if (await http.get(f"http://127.0.0.1:{port}/readyz")).status_code != 200:
                            return False
                        continue
                    return False
                return True

            await eventually(both_ready, within=60, what="both bot processes ready")
            assert emulator.bot_api.webhook.hook is not None
            assert emulator.bot_api.webhook.hook.url == f"{url}/telegram/webhook"
            chats = [Chat(user, http) for user in range(9_200, 9_220)]
            await asyncio.gather(*(chat.send("/help") for chat in chats))
            await asyncio.sleep(0.5)  # time for a second answer, were one to come
            assert [_bot_messages(emulator, chat.user_id) for chat in chats] == [1] * len(chats)  # once each
            assert all(balancer.forwarded[f"http://127.0.0.1:{port}"] >= 5 for port in ports), balancer.forwarded

            hook = f"http://127.0.0.1:{ports[0]}/telegram/webhook"
            refused = await http.post(hook, json={"update_id": 1}, headers={SECRET_HEADER: "not-the-secret"})
            assert refused.status_code == 403
            emulator.world.user(9_300)
            update = _help_update(10_000, 9_300)
            for port in ports:  # Telegram delivering one update twice, to each process once
                answer = await http.post(
                    f"http://127.0.0.1:{port}/telegram/webhook", json=update, headers={SECRET_HEADER: SECRET}
                )
                assert answer.status_code == 200
            await eventually(lambda: _bot_messages(emulator, 9_300) >= 1, within=10, what="the duplicate answered")
            await asyncio.sleep(0.5)
            assert _bot_messages(emulator, 9_300) == 1
    finally:
        await balancer.stop()
        await emulator.stop()


def _help_update(update_id: int, user: int) -> dict[str, Any]:
    sender = {"id": user, "is_bot": False, "first_name": "Dee"}
    message = {
        "message_id": 1,
        "date": int(time.time()),
        "chat": {"id": user, "type": "private"},
        "from": sender,
        "text": "/help",
        "entities": [{"type": "bot_command", "offset": 0, "length": 5}],
    }
    return {"update_id": update_id, "message": message}


def _bot_messages(emulator: Emulator, chat: int) -> int:
    return sum(1 for message in emulator.world.chats[chat] if message.from_bot)
