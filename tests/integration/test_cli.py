"""The `omnibot` command line, run as its own process."""

from __future__ import annotations

import base64
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from core import admins, audit, user_service
from core.clock import ManualClock, SystemClock
from core.config import Settings
from core.crypto import BlindIndex, FieldCipher, Keyring, generate_key
from core.users import PersonalData, UserStatus
from payments import withdrawals
from payments.bank_details import iban_details
from payments.desk import PaymentDesk
from payments.providers.manual import ManualProvider
from payments.states import WithdrawalStatus
from tests.conftest import START, make_database


def omnibot(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OMNIBOT_")} | env
    return subprocess.run(
        [sys.executable, "-m", "omnibot.cli", *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=120,
        check=False,
    )


def test_migrate_builds_a_fresh_database_and_can_run_again(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.db'}"
    for _ in range(2):
        done = omnibot("migrate", OMNIBOT_DATABASE_URL=url)
        assert done.returncode == 0, done.stderr
        assert "database at revision 0013" in done.stderr


def test_a_bad_setting_is_explained_without_a_traceback() -> None:
    done = omnibot("migrate", OMNIBOT_DATABASE_URL="mysql://somewhere/db")
    assert done.returncode == 1
    assert "OMNIBOT_DATABASE_URL: unsupported database 'mysql'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_setting_may_come_from_a_file_and_a_malformed_one_is_named(tmp_path: Path) -> None:
    (tmp_path / "url").write_text(f"sqlite:///{tmp_path / 'from-file.db'}\n")
    done = omnibot("migrate", OMNIBOT_DATABASE_URL_FILE=str(tmp_path / "url"))
    assert done.returncode == 0 and (tmp_path / "from-file.db").exists(), done.stderr
    missing = omnibot("migrate", OMNIBOT_DATABASE_URL_FILE=str(tmp_path / "nowhere"))
    assert missing.returncode == 1 and "OMNIBOT_DATABASE_URL_FILE: cannot read" in missing.stderr
    malformed = omnibot("migrate", OMNIBOT_ADMIN_TELEGRAM_IDS="12,abc", OMNIBOT_TOTP_MAX_FAILURES="0")
    assert malformed.returncode == 1 and "Traceback" not in malformed.stderr
    assert "OMNIBOT_ADMIN_TELEGRAM_IDS:" in malformed.stderr and "OMNIBOT_TOTP_MAX_FAILURES:" in malformed.stderr


def test_keys_generate_prints_a_fresh_32_byte_key() -> None:
    first, second = omnibot("keys", "generate").stdout.strip(), omnibot("keys", "generate").stdout.strip()
    assert first != second and len(base64.urlsafe_b64decode(first)) == 32


async def test_keys_rotate_reseals_under_the_first_key(tmp_path: Path) -> None:
    path = tmp_path / "rotate.db"
    assert omnibot("migrate", OMNIBOT_DATABASE_URL=f"sqlite:///{path}").returncode == 0
    old, new, index = generate_key(), generate_key(), generate_key()
    db = make_database(f"sqlite:///{path}", ManualClock(START))
    cipher = FieldCipher(Keyring.parse(f"old:{old}"), BlindIndex(base64.urlsafe_b64decode(index)))
    user = await db.transact(lambda uow: user_service.register(uow, 7))
    await db.transact(lambda uow: user_service.save_personal_data(uow, cipher, user.id, PersonalData("Zoe Lin")))
    await db.dispose()

    done = omnibot(
        "keys",
        "rotate",
        OMNIBOT_DATABASE_URL=f"sqlite:///{path}",
        OMNIBOT_ENCRYPTION_KEYS=f"new:{new},old:{old}",
        OMNIBOT_BLIND_INDEX_KEY=index,
    )
    assert done.returncode == 0, done.stderr
    assert "re-sealed 1 under key 'new'" in done.stderr
    assert old not in done.stderr and new not in done.stderr

    db = make_database(f"sqlite:///{path}", ManualClock(START))
    only_new = FieldCipher(Keyring.parse(f"new:{new}"), cipher.blind_index)
    assert (
        await db.transact(lambda uow: user_service.read_personal_data(uow, only_new, user.id))
    ).full_name == "Zoe Lin"
    await db.dispose()


def test_the_demo_answers_in_its_chat_page_and_stops_cleanly(tmp_path: Path) -> None:
    """`omnibot demo` as `make demo` runs it: the demo investor can trade at once, finds a leader to follow,
    and Ctrl+C ends it."""
    port = _free_port()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("OMNIBOT_")}
    process = subprocess.Popen(
        [sys.executable, "-m", "omnibot.cli", "demo", "--port", str(port)],
        cwd=tmp_path,
        env=environment | {"PYTHONPATH": str(Path(__file__).parents[2])},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        page = f"http://127.0.0.1:{port}"
        _wait_until(lambda: b"code now" in (_get(f"{page}/test/chat/1001") or b""))  # ready, the code shown
        assert b"Omnibot" in (_get(f"{page}/") or b"")  # the chat page
        banner = json.loads(_get(f"{page}/test/chat/1001") or b"{}")["banner"]
        assert re.search(r"code now: \d{6}", banner)
        _post(f"{page}/test/send", {"user_id": 1001, "text": "/profile"})
        _wait_until(lambda: b"Demo Investor" in (_get(f"{page}/test/chat/1001") or b""))
        _post(f"{page}/test/send", {"user_id": 1001, "text": "/leaders"})
        _wait_until(lambda: b"1. Ada" in (_get(f"{page}/test/chat/1001") or b""))  # a leader to follow
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert "Open http://127.0.0.1:" in out and "Traceback" not in err


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _get(url: str) -> bytes | None:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            body: bytes = response.read()
            return body
    except OSError:
        return None


def _post(url: str, body: dict[str, object]) -> None:
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def _wait_until(condition: Callable[[], bool], within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    while not condition():
        assert time.monotonic() < deadline, "the demo did not get there in time"
        time.sleep(0.2)


async def test_the_operator_pays_a_manual_withdrawal_from_the_command_line(tmp_path: Path) -> None:
    """`omnibot payments`: record a deposit from the statement, approve a withdrawal, export the pain.001 file,
    then report it sent and settled."""
    url, keys, index = f"sqlite:///{tmp_path / 'pay.db'}", f"k:{generate_key()}", generate_key()
    env = {
        "OMNIBOT_DATABASE_URL": url,
        "OMNIBOT_ENCRYPTION_KEYS": keys,
        "OMNIBOT_BLIND_INDEX_KEY": index,
        "OMNIBOT_PAYMENTS_PROVIDER": "manual",
        "OMNIBOT_PAYMENTS_BANK_COOLDOWN_HOURS": "0",
        "OMNIBOT_PAYMENTS_DEPOSIT_HOLD_DAYS": "0",
        "OMNIBOT_PAYMENTS_AUTO_APPROVE_BELOW": "0",
    }
    assert omnibot("migrate", **env).returncode == 0
    settings = Settings(**{key.removeprefix("OMNIBOT_").lower(): value for key, value in env.items()})
    db = make_database(url, SystemClock())
    cipher = FieldCipher.from_settings(settings)
    user = await db.transact(lambda uow: user_service.register(uow, 77))
    await db.transact(lambda uow: user_service.save_personal_data(uow, cipher, user.id, PersonalData("Zoe Lin")))
    for status in (UserStatus.PENDING_KYC, UserStatus.ACTIVE):
        await db.transact(lambda uow, s=status: user_service.change_status(uow, user.id, s))
    desk = PaymentDesk(db, settings, cipher, ManualProvider())
    account = await desk.add_bank(user.id, iban_details("NL91ABNA0417164300"), "Zoe Lin")

    assert omnibot("payments", "deposit", "77", "500", "statement-1", **env).returncode == 0
    assert omnibot("payments", "deposit", "77", "500", "statement-1", **env).returncode == 0  # recorded once
    withdrawal = await desk.withdraw(user.id, account.id, Decimal(200), "cli")
    assert withdrawal.status is WithdrawalStatus.PENDING_REVIEW
    pending = omnibot("payments", "pending", **env)
    assert str(withdrawal.id) in pending.stdout and "pending_review" in pending.stdout
    assert omnibot("payments", "review", str(withdrawal.id), "approve", **env).returncode == 0
    done = omnibot("payments", "export", "--out", str(tmp_path / "out"), **env)
    assert "exported 1 IBAN and 0 US payouts" in done.stderr, done.stderr
    [exported] = (tmp_path / "out").glob("pain001-*.xml")
    assert "NL91ABNA0417164300" in exported.read_text() and "200.00" in exported.read_text()
    for outcome in ("sent", "settled"):
        assert omnibot("payments", "mark", str(withdrawal.id), outcome, **env).returncode == 0
    [record] = await db.transact(lambda uow: withdrawals.of_owner(uow, user.id), readonly=True)
    assert record.status is WithdrawalStatus.SETTLED
    assert (await desk.withdrawable(user.id)) == Decimal(300)
    await db.dispose()


def test_audit_verify_says_whether_the_chain_holds(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    assert omnibot("migrate", OMNIBOT_DATABASE_URL=url).returncode == 0
    whole = omnibot("audit", "verify", OMNIBOT_DATABASE_URL=url, OMNIBOT_AUDIT_KEY="k")
    assert whole.returncode == 0 and "audit trail whole: 0 events, keyed" in whole.stderr
    with sqlite3.connect(tmp_path / "audit.db") as raw:  # what someone with the file could do
        raw.execute("UPDATE audit_head SET last_seq = 3")
    broken = omnibot("audit", "verify", OMNIBOT_DATABASE_URL=url, OMNIBOT_AUDIT_KEY="k")
    assert broken.returncode == 1 and "broken at event 1" in broken.stderr and "Traceback" not in broken.stderr


async def test_admin_grant_list_and_revoke(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'admins.db'}"
    assert omnibot("migrate", OMNIBOT_DATABASE_URL=url).returncode == 0
    db = make_database(url, SystemClock())
    await db.transact(lambda uow: user_service.register(uow, 91))
    unknown = omnibot("admin", "grant", "92", OMNIBOT_DATABASE_URL=url)
    assert unknown.returncode == 1 and "Telegram id 92 not found" in unknown.stderr
    assert "Traceback" not in unknown.stderr
    assert omnibot("admin", "grant", "91", OMNIBOT_DATABASE_URL=url).returncode == 0
    assert omnibot("admin", "list", OMNIBOT_DATABASE_URL=url).stdout.split() == ["91", "new"]
    assert omnibot("admin", "revoke", "91", OMNIBOT_DATABASE_URL=url).returncode == 0
    assert omnibot("admin", "list", OMNIBOT_DATABASE_URL=url).stdout == ""
    trail = await db.transact(
        lambda uow: uow.connection.execute(select(audit.LOG.c.action, audit.LOG.c.actor).order_by(audit.LOG.c.seq)),
        readonly=True,
    )
    assert [tuple(row) for row in trail] == [("admin.granted", "operator"), ("admin.revoked", "operator")]
    # Named in the settings: granted once they have registered, and only then.
    settings = Settings(admin_telegram_ids="91, 93")
    assert settings.admin_telegram_ids == {91, 93}
    assert await db.transact(lambda uow: admins.grant_configured(uow, settings)) == [91]
    assert await db.transact(lambda uow: admins.grant_configured(uow, settings)) == []
    await db.dispose()
