"""`omnibot demo`: the whole platform on one machine with nothing to sign up for. A fresh SQLite database, the IB
Gateway simulator in process, the Telegram Bot API emulator with its web chat page, and the bot; a demo investor
(two-factor enrolled, whose current code the page shows, with a sandbox deposit), a demo admin, and a leader to
follow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pyotp
from pydantic import SecretStr

from bot.emulator.server import Emulator
from broker.order_requests import OrderRequest
from broker.order_states import OrderSide
from broker.sim.gateway import GatewaySimulator
from copytrade import leaders
from core import onboarding, two_factor, user_service
from core.config import Settings
from core.crypto import FieldCipher, generate_key
from core.db import UnitOfWork
from core.users import Role, UserStatus
from ledger import operations
from omnibot import migrations
from omnibot.bootstrap import Platform, bootstrap, running
from payments import funding

log = logging.getLogger("omnibot.demo")
TOKEN = "100000:DEMO"  # noqa: S105 (the emulator's, not a secret)
INVESTOR, ADMIN, LEADER = 1001, 1000, 1002
DEPOSIT = Decimal(100_000)
DEMO_DIR = Path(".demo")


def fresh_database() -> Path:
    """The demo's SQLite file, its previous run's removed (run before the event loop starts)."""
    DEMO_DIR.mkdir(exist_ok=True)
    for stale in DEMO_DIR.glob("omnibot.db*"):
        stale.unlink()
    return DEMO_DIR / "omnibot.db"


async def demo(port: int, database: Path, stop: asyncio.Event | None = None) -> None:
    stop = stop or _interrupted()
    simulator = GatewaySimulator(account="DU0000001", seed=1)
    await simulator.start("127.0.0.1", 0)
    emulator = Emulator(TOKEN)
    await emulator.start("127.0.0.1", port)
    settings = Settings(
        database_url=SecretStr(f"sqlite+aiosqlite:///{database}"),
        encryption_keys=SecretStr(f"demo:{generate_key()}"),  # a fresh keyring each run: the demo keeps nothing
        blind_index_key=SecretStr(generate_key()),
        ib_port=simulator.port,
        ib_client_id=1,
        kyc_auto_approve=True,
        margin_lending_capacity=Decimal(250_000),
        payments_bank_cooldown_hours=0,  # the demo's new bank account can receive a withdrawal at once
        payments_deposit_hold_days=0,
        http_port=0,  # no probes or metrics: the demo must start whatever else listens on this machine
    )
    platform = bootstrap(settings)
    try:
        await migrations.upgrade(platform.db)
        secret = await platform.db.transact(lambda uow: _demo_users(uow, platform))
        leader = await platform.db.transact(lambda uow: _demo_leader(uow, platform))
        await platform.db.transact(lambda uow: _opening_cash(uow, simulator.account.cash))
        async with running(platform, token=TOKEN, base_url=emulator.base_url) as live:
            assert live.broker is not None
            await live.broker.leading.wait()  # the demo is one process: it leads at once
            trading = live.services.broker.trading
            await trading.place_order(OrderRequest(leader, "demo/leader-buy", "AAPL", OrderSide.BUY, 40))
            banner = asyncio.create_task(_show_codes(emulator, secret))
            _tell(emulator)
            await stop.wait()
            banner.cancel()
    finally:
        await platform.close()
        await emulator.stop()
        await simulator.stop()


async def _demo_users(uow: UnitOfWork, platform: Platform) -> str:
    """The demo investor (onboarded, enrolled, with a sandbox deposit) and the demo admin; the investor's secret."""
    cipher, settings = platform.field_cipher(), platform.settings
    investor = await open_account(uow, cipher, INVESTOR, "Demo Investor", "investor@example.com")
    enrolment = await two_factor.begin_enrolment(uow, cipher, settings, investor, "demo-investor")
    code = pyotp.TOTP(enrolment.secret).at(uow.clock.now())
    await two_factor.confirm_enrolment(uow, cipher, settings, investor, code)
    await operations.deposit(uow, investor, DEPOSIT, key="demo/sandbox-deposit", memo="sandbox deposit")
    admin = await open_account(uow, cipher, ADMIN, "Demo Admin", "admin@example.com")
    await user_service.set_role(uow, admin, Role.ADMIN)
    return enrolment.secret


async def _demo_leader(uow: UnitOfWork, platform: Platform) -> UUID:
    """Ada, a leader to follow (approved, with cash; she buys AAPL once the platform runs)."""
    cipher, settings = platform.field_cipher(), platform.settings
    leader = await open_account(uow, cipher, LEADER, "Ada Leader", "ada@example.com")
    enrolment = await two_factor.begin_enrolment(uow, cipher, settings, leader, "demo-leader")
    await two_factor.confirm_enrolment(uow, cipher, settings, leader, pyotp.TOTP(enrolment.secret).at(uow.clock.now()))
    await operations.deposit(uow, leader, DEPOSIT, key="demo/leader-deposit", memo="sandbox deposit")
    await leaders.become_leader(uow, settings, leader, "Ada", "Long-only US large caps", Decimal(10))
    await leaders.review_leader(uow, leader, approve=True)
    return leader


async def _opening_cash(uow: UnitOfWork, cash: Decimal) -> None:
    """The simulator's account starts with cash: booked as the operator's first transfer to IB, so that
    reconciliation finds the books and IB agreeing."""
    await funding.mark_arrived(uow, await funding.record_sent(uow, cash, to_ib=True, note="opening balance"))


async def open_account(uow: UnitOfWork, cipher: FieldCipher, telegram_id: int, name: str, email: str) -> UUID:
    """An account opened through onboarding's own steps, as if typed in the chat (approved at once)."""
    progress = await onboarding.begin(uow, telegram_id)
    user_id = progress.user.id
    await onboarding.accept_terms(uow, user_id)
    for answer in (name, email, "US", "some", "medium", "some"):
        await onboarding.answer(uow, cipher, user_id, answer, auto_approve=True)
    assert (await user_service.get_user(uow, user_id)).status is UserStatus.ACTIVE
    return user_id


async def _show_codes(emulator: Emulator, secret: str) -> None:
    """The page shows the demo investor's current code, as their authenticator app would."""
    totp = pyotp.TOTP(secret)
    while True:
        emulator.world.banners[INVESTOR] = f"Demo investor's 2FA code now: {totp.now()} (it changes every 30 s)"
        await emulator.world.changed()
        await asyncio.sleep(5)


def _tell(emulator: Emulator) -> None:
    print(
        f"""
Omnibot demo is running.

  Open {emulator.url}/ in a browser: you chat as the demo investor (user {INVESTOR}).
  Their current two-factor code is shown at the top of the page.

  Try:  /help    /profile    /quote AAPL    /buy AAPL 10    (send the code when asked, then Confirm)
        /orders    /sell AAPL all    /status
        /leaders    /leader Ada    /follow Ada    (copy her trades: she holds AAPL)    /following
        /bank add DE89 3704 0044 0532 0130 00    /deposit 1000    /withdraw 100    /withdrawals
        (the sandbox bank pays deposits in about 5 s and withdrawals in about 30 s)
  Another user: change the user number at the top (e.g. 2002) and send /start to open a new account.

  Press Ctrl+C to stop. The demo's data lives in {DEMO_DIR}/ and starts afresh each time.
""",
        flush=True,
    )


def _interrupted() -> asyncio.Event:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signum, stop.set)
    return stop
