"""The `omnibot` command line."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from decimal import Decimal
from importlib.metadata import version
from typing import Any

from broker.sim.admin import AdminEndpoint
from broker.sim.gateway import GatewaySimulator
from core import admins, audit, logs
from core.crypto import generate_key
from core.errors import AuditBroken, OmnibotError
from core.key_rotation import rotate_keys
from omnibot import migrations, payments_cli
from omnibot.bootstrap import Platform, Role, bootstrap, running
from omnibot.demo import demo, fresh_database
from omnibot.schema import metadata

log = logging.getLogger("omnibot")


async def _migrate(platform: Platform, _args: argparse.Namespace) -> None:
    await migrations.upgrade(platform.db)
    log.info("database at revision %s", await migrations.current_revision(platform.db))


async def _rotate(platform: Platform, _args: argparse.Namespace) -> None:
    keyring = platform.field_cipher().keyring
    report = await rotate_keys(platform.db, keyring, metadata)
    log.info(
        "examined %d sealed values, re-sealed %d under key %r %s",
        report.examined,
        report.resealed,
        keyring.primary_id,
        report.per_table or "",
    )


async def _verify_audit(platform: Platform, _args: argparse.Namespace) -> None:
    checked = await platform.db.transact(audit.verify, readonly=True)
    if not checked.whole:
        raise AuditBroken(checked.rows, checked.broken_at)
    keyed = "keyed (HMAC-SHA256)" if platform.settings.audit_key else "keyless (SHA-256: set OMNIBOT_AUDIT_KEY)"
    log.info("audit trail whole: %d events, %s chain, head %s", checked.rows, keyed, checked.head)


async def _admin(platform: Platform, args: argparse.Namespace) -> None:
    if args.admin_command == "list":
        for user in await platform.db.transact(admins.admins, readonly=True):
            print(f"{user.telegram_id}\t{user.status.value}")
        return
    granting = args.admin_command == "grant"
    await platform.db.transact(lambda uow: admins.set_admin(uow, args.telegram_id, "operator", admin=granting))
    log.info("%s is %s an admin", args.telegram_id, "now" if granting else "no longer")


def _with_platform(
    action: Callable[[Platform, argparse.Namespace], Coroutine[Any, Any, None]],
) -> Callable[[argparse.Namespace], None]:
    def run(args: argparse.Namespace) -> None:
        async def main() -> None:
            platform = bootstrap(configure_logs=True)
            try:
                await action(platform, args)
            finally:
                await platform.close()

        asyncio.run(main())

    return run


def _demo(args: argparse.Namespace) -> None:
    asyncio.run(demo(args.port, fresh_database()))


def _run(args: argparse.Namespace) -> None:
    async def serve() -> None:
        platform = bootstrap(configure_logs=True)
        token = platform.settings.telegram_token
        stop = asyncio.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            asyncio.get_running_loop().add_signal_handler(signum, stop.set)
        try:
            base_url = platform.settings.telegram_base_url
            secret = token.get_secret_value() if token else None
            async with running(platform, role=Role(args.role), token=secret, base_url=base_url):
                log.info("omnibot is running as %s; Ctrl+C stops it", args.role)
                await stop.wait()
        finally:
            await platform.close()

    asyncio.run(serve())


def _print_key(_args: argparse.Namespace) -> None:
    print(generate_key())


def _ibsim(args: argparse.Namespace) -> None:
    async def serve() -> None:
        simulator = GatewaySimulator(seed=args.seed, account=args.account, cash=Decimal(args.cash))
        await simulator.start(args.host, args.port)
        admin = AdminEndpoint(simulator)
        if args.admin_port is not None:
            await admin.start(args.admin_port)  # always on the loopback interface
            log.info("simulator control endpoint on 127.0.0.1:%d", admin.port)
        try:
            await asyncio.Event().wait()  # until interrupted
        finally:
            await admin.stop()
            await simulator.stop()

    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve())


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="omnibot", description="Omnibot: trading for many investors, one IB account.")
    root.add_argument("--version", action="version", version=f"omnibot {version('omnibot')}")
    commands = root.add_subparsers(dest="command", required=True)
    commands.add_parser("migrate", help="upgrade the database to the newest schema").set_defaults(
        run=_with_platform(_migrate)
    )
    keys = commands.add_parser("keys", help="encryption keys").add_subparsers(dest="keys_command", required=True)
    keys.add_parser("generate", help="print a new random key").set_defaults(run=_print_key)
    keys.add_parser("rotate", help="re-seal every encrypted value under the first key").set_defaults(
        run=_with_platform(_rotate)
    )
    run = commands.add_parser("run", help="run the platform (all of it, or one role)")
    run.add_argument(
        "--role",
        choices=[role.value for role in Role],
        default=Role.ALL.value,
        help="all (default): everything in this process; bot: Telegram updates; broker: the IB connection (one "
        "process is elected, the others stand by); worker: notifications and shared jobs",
    )
    run.set_defaults(run=_run)
    demo_command = commands.add_parser("demo", help="everything on this machine: simulator, emulator, bot")
    demo_command.add_argument("--port", type=int, default=8088, help="the Telegram emulator's port (its chat page)")
    demo_command.set_defaults(run=_demo)
    ibsim = commands.add_parser("ibsim", help="run the IB Gateway simulator (TWS API protocol) until interrupted")
    ibsim.add_argument("--host", default="127.0.0.1")
    ibsim.add_argument("--port", type=int, default=4002)
    ibsim.add_argument("--seed", type=int, default=0, help="seed of the simulated markets")
    ibsim.add_argument("--account", default="DU1234567", help="the omnibus account's code")
    ibsim.add_argument("--cash", default="1000000", help="the account's starting cash in USD")
    ibsim.add_argument("--admin-port", type=int, help="serve the control endpoint (JSON over HTTP) on this port")
    ibsim.set_defaults(run=_ibsim)
    auditing = commands.add_parser("audit", help="the audit trail").add_subparsers(dest="audit_command", required=True)
    auditing.add_parser(
        "verify", help="recompute the hash chain: any edited, removed or inserted event shows"
    ).set_defaults(run=_with_platform(_verify_audit))
    roles = commands.add_parser("admin", help="who may open the admin chat").add_subparsers(
        dest="admin_command", required=True
    )
    for verb, what in (("grant", "make an admin of"), ("revoke", "take the admin role from")):
        command = roles.add_parser(verb, help=f"{what} the user with this Telegram id (after their /start)")
        command.add_argument("telegram_id", type=int)
        command.set_defaults(run=_with_platform(_admin))
    roles.add_parser("list", help="the admins' Telegram ids").set_defaults(run=_with_platform(_admin))
    payments_cli.add_commands(commands)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    logs.configure("INFO", "text")  # until the settings are read (a command that reads them may change it)
    try:
        args.run(args)
    except OmnibotError as exc:
        log.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
