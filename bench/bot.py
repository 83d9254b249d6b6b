"""The bot under 100 concurrent users, printed as JSON lines (DESIGN.md section 9).

    python -m bench.bot [--users 100] [--rounds 5] [--engine postgresql]

Everything real and on this machine: python-telegram-bot polling the Bot API emulator over HTTP, the database,
the IB Gateway simulator over ib_async; the emulator and the simulator in processes of their own, as Telegram
and IB would be. The users are opened through onboarding's own steps, with two-factor
and a deposit, and trading unlocked (setup, not timed).

- updates_per_s: every user sends /profile `rounds` times at once, as fast as answers come; updates handled a
  second, measured from the first send to the last answer read.
- confirm_to_place_order_ms p50/p99 (goal p99 <= 50 ms): every user previews a buy, then taps Confirm at a
  random moment within `spread` seconds (100 users over 10 s: 10 taps a second); from each tap (the user's press
  sent to the emulator) to IB's placeOrder for that order's block leaving the connection. The block window is set to
  0: the simulator's fill delay is not counted, nor any window. The same again with every tap at once
  (`_all_at_once`): the worst case, where the taps queue for the CPU and IB's pacing of 45 messages a second.
- peak_rss_mb (goal <= 300 MB): the bot process's peak resident memory (the bench's simulated users, a few
  HTTP clients, share it).

The emulator's per-chat limit is widened (users type faster here than people do): this measures the bot, not
Telegram's flood control.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import resource
import socket
import statistics
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pyotp
from pydantic import SecretStr
from sqlalchemy import select

from bench.ledger import fresh_database
from bench.lines import Lines
from broker.connection import IBConnection
from broker.events import OrderTicket
from broker.order_store import ORDERS
from core import two_factor
from core.clock import SystemClock
from core.config import Settings
from core.crypto import generate_key
from core.db import Database, UnitOfWork
from core.ids import Uuid7Generator
from ledger import operations
from omnibot.bootstrap import Platform, running
from omnibot.demo import open_account

TOKEN = "100000:BENCH"
GOALS = {"confirm_to_place_order_p99_ms": 50.0, "peak_rss_mb": 300.0}
FIRST_USER = 50_000


emit = Lines("bot", GOALS)


async def ready_users(db: Database, settings: Settings, count: int) -> None:
    """Open, enrol, fund and unlock `count` investors."""
    cipher = Platform(settings, db.clock, db.ids, db).field_cipher()

    async def one(uow: UnitOfWork, telegram_id: int) -> None:
        user = await open_account(uow, cipher, telegram_id, f"Bench User {telegram_id}", f"u{telegram_id}@example.com")
        enrolment = await two_factor.begin_enrolment(uow, cipher, settings, user, str(telegram_id))
        totp = pyotp.TOTP(enrolment.secret)
        previous_step = totp.at(uow.clock.now() - timedelta(seconds=30))  # the current one unlocks just after
        await two_factor.confirm_enrolment(uow, cipher, settings, user, previous_step)
        await two_factor.unlock_session(uow, cipher, settings, user, totp.now())
        await operations.deposit(uow, user, Decimal(100_000), key=f"bench/{telegram_id}")

    for n in range(count):
        await db.transact(lambda uow, t=FIRST_USER + n: one(uow, t))


class Chats:
    """The users' side, through the emulator's test API."""

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def send(self, user: int, text: str) -> None:
        (await self.http.post("/test/send", json={"user_id": user, "text": text})).raise_for_status()

    async def bot_messages(self, user: int) -> list[dict[str, Any]]:
        chat = (await self.http.get(f"/test/chat/{user}")).json()
        return [m for m in chat["messages"] if m["from_bot"]]

    async def until(self, user: int, count: int, *, with_buttons: bool = False) -> list[dict[str, Any]]:
        """The chat's bot messages once there are `count` (with buttons on one beyond the first count - 1, if
        asked), read by long polling the chat."""
        seen = -1
        while True:
            chat = (await self.http.get(f"/test/chat/{user}", params={"wait": 5, "seen": seen})).json()
            found = [m for m in chat["messages"] if m["from_bot"]]
            if len(found) >= count and (not with_buttons or any(m["buttons"] for m in found[count - 1 :])):
                return found
            seen = chat["version"]


async def updates_per_second(chats: Chats, users: list[int], rounds: int) -> None:
    async def user_session(user: int) -> None:
        before = len(await chats.bot_messages(user))
        for n in range(rounds):
            await chats.send(user, "/profile")
            await chats.until(user, before + n + 1)

    started = time.perf_counter()
    await asyncio.gather(*(user_session(user) for user in users))
    elapsed = time.perf_counter() - started
    total = len(users) * rounds
    emit("updates_per_s", round(total / elapsed, 1), "updates/s", "higher", users=len(users), updates=total)


class Stopwatch:
    """Taps as the user makes them (the press sent to the emulator), and placeOrder as it leaves the IB
    connection, by order."""

    def __init__(self, connection: IBConnection) -> None:
        self.tapped: dict[str, float] = {}
        self.placed: dict[str, float] = {}
        send = connection.place

        async def place(ticket: OrderTicket) -> Any:
            self.placed.setdefault(ticket.order_ref, time.perf_counter())
            return await send(ticket)

        connection.place = place  # type: ignore[method-assign]  # the bench's stopwatch at the port


async def confirm_latency(chats: Chats, users: list[int], watch: Stopwatch, db: Database, spread: float) -> None:
    """Every user previews a buy, then taps Confirm: at random moments over `spread` seconds (0: all at once)."""
    previews = {}
    for user in users:
        before = len(await chats.bot_messages(user))
        await chats.send(user, "/buy AAPL 1")
        found = await chats.until(user, before + 1, with_buttons=True)
        previews[user] = next(m for m in reversed(found) if m["buttons"])
    watch.tapped.clear()
    rng = random.Random(5)

    async def tap(user: int, preview: dict[str, Any]) -> None:
        await asyncio.sleep(rng.uniform(0, spread))
        data = preview["buttons"][0][1]
        body = {"user_id": user, "message_id": preview["message_id"], "data": data}
        watch.tapped[data.removeprefix("oc:")] = time.perf_counter()
        (await chats.http.post("/test/press", json=body)).raise_for_status()

    await asyncio.gather(*(tap(user, preview) for user, preview in previews.items()))
    blocks = await _all_placed(db, watch)
    latencies = sorted((watch.placed[blocks[token]] - at) * 1000 for token, at in watch.tapped.items())
    p99 = latencies[round(0.99 * (len(latencies) - 1))]
    taps = "all at once" if not spread else f"spread over {spread:g} s"
    extra = {"orders": len(latencies), "blocks": len(set(blocks.values())), "taps": taps}
    suffix = "" if spread else "_all_at_once"
    emit(f"confirm_to_place_order_p50{suffix}_ms", round(statistics.median(latencies), 2), "ms", "lower", **extra)
    emit(f"confirm_to_place_order_p99{suffix}_ms", round(p99, 2), "ms", "lower", **extra)


async def _all_placed(db: Database, watch: Stopwatch) -> dict[str, str]:
    """Each tapped order's block, once every one of them has gone to IB."""
    for _ in range(2400):  # 2 minutes
        blocks = await _blocks_of(db, watch.tapped)
        if blocks is not None and all(block in watch.placed for block in blocks.values()):
            return blocks
        await asyncio.sleep(0.05)
    raise TimeoutError("not every confirmed order reached IB within 2 minutes")


async def _blocks_of(db: Database, tapped: dict[str, float]) -> dict[str, str] | None:
    """Each tapped order's block (its orderRef at IB), once every order is recorded."""
    keys = [f"bot/{token}" for token in tapped]

    async def read(uow: UnitOfWork) -> dict[str, str]:
        query = select(ORDERS.c.client_key, ORDERS.c.block_id).where(ORDERS.c.client_key.in_(keys))
        rows = await uow.connection.execute(query)
        return {row.client_key.removeprefix("bot/"): str(row.block_id) for row in rows}

    found = await db.transact(read, readonly=True)
    return found if len(found) == len(tapped) else None


@asynccontextmanager
async def process(*command: str, port: int) -> AsyncIterator[None]:
    """Another process of ours (the emulator, the simulator), listening on `port` until the block exits."""
    child = await asyncio.create_subprocess_exec(
        sys.executable, *command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                break
            await asyncio.sleep(0.05)
        yield
    finally:
        child.terminate()
        await child.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--spread", type=float, default=10.0, help="seconds over which the users tap Confirm")
    parser.add_argument("--engine", default="postgresql", choices=["postgresql", "sqlite"])
    args = parser.parse_args()
    ib_port, telegram_port = free_port(), free_port()
    settings = Settings(
        encryption_keys=SecretStr(f"bench:{generate_key()}"),
        blind_index_key=SecretStr(generate_key()),
        ib_port=ib_port,
        ib_client_id=9,
        kyc_auto_approve=True,
        trading_block_window_ms=0,
        trading_orders_per_minute=1000,
        bot_commands_per_minute=1000,
    )
    emulator = ("-m", "bot.emulator", "--port", str(telegram_port), "--token", TOKEN, "--chat-burst", "1000")
    simulator = ("-m", "omnibot.cli", "ibsim", "--port", str(ib_port), "--cash", "1000000000", "--seed", "2")
    async with (
        process(*emulator, port=telegram_port),
        process(*simulator, port=ib_port),
        fresh_database(args.engine, pool=30) as db,
    ):
        await ready_users(db, settings, args.users)
        users = [FIRST_USER + n for n in range(args.users)]
        platform = Platform(settings, SystemClock(), Uuid7Generator(SystemClock()), db)
        base_url = f"http://127.0.0.1:{telegram_port}"
        async with (
            running(platform, token=TOKEN, base_url=f"{base_url}/bot") as live,
            httpx.AsyncClient(base_url=base_url, timeout=30) as http,
        ):
            assert live.broker is not None
            await asyncio.wait_for(live.broker.leading.wait(), 30)
            assert live.services.broker.link.local is not None
            connection = live.services.broker.link.local.connection
            await connection.wait_ready(within=30)
            chats = Chats(http)
            await updates_per_second(chats, users, args.rounds)
            watch = Stopwatch(connection)
            await confirm_latency(chats, users, watch, db, spread=args.spread)
            await confirm_latency(chats, users, watch, db, spread=0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    emit("peak_rss_mb", round(peak, 1), "MB", "lower", note="the bot's process (the bench's users are in it too)")


if __name__ == "__main__":
    asyncio.run(main())
