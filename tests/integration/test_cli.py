"""The `omnibot` command line, run as its own process."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from pathlib import Path

from core import user_service
from core.clock import ManualClock
from core.crypto import BlindIndex, FieldCipher, Keyring, generate_key
from core.users import PersonalData
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
        assert "database at revision 0005" in done.stderr


def test_a_bad_setting_is_explained_without_a_traceback() -> None:
    done = omnibot("migrate", OMNIBOT_DATABASE_URL="mysql://somewhere/db")
    assert done.returncode == 1
    assert "OMNIBOT_DATABASE_URL: unsupported database 'mysql'" in done.stderr
    assert "Traceback" not in done.stderr


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
