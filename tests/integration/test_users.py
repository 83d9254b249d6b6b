"""Users and their personal data: registration, status changes, encryption at rest, blind-index lookup and key
rotation, against SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text, update

from core import user_service
from core.crypto import BlindIndex, FieldCipher, Keyring, generate_key
from core.db import Database, UnitOfWork
from core.errors import DecryptionError, InvalidPersonalData, InvalidTransition
from core.key_rotation import rotate_keys
from core.models import User
from core.users import PersonalData, Role, UserStatus
from omnibot.schema import metadata

ALICE = PersonalData("Alice Moreau", "alice@example.com", "+33 6 12 34 56 78", "FR")
BOB = PersonalData("Bob Okafor", "bob@example.org", "+1 (415) 555-0100", "US")


async def test_registration_is_idempotent_by_telegram_id(db: Database) -> None:
    first = await db.transact(lambda uow: user_service.register(uow, 4242, language="fr"))
    again = await db.transact(lambda uow: user_service.register(uow, 4242))
    assert again == first
    assert (first.status, first.role.value, first.language) == (UserStatus.NEW, "investor", "fr")
    assert first.created_at.tzinfo is not None


async def test_status_follows_the_allowed_transitions(db: Database) -> None:
    user = await db.transact(lambda uow: user_service.register(uow, 1))
    with pytest.raises(InvalidTransition):
        await db.transact(lambda uow: user_service.change_status(uow, user.id, UserStatus.ACTIVE))
    for status in (UserStatus.PENDING_KYC, UserStatus.ACTIVE, UserStatus.FROZEN, UserStatus.ACTIVE):
        user = await db.transact(lambda uow, s=status, u=user.id: user_service.change_status(uow, u, s))
    assert user.status is UserStatus.ACTIVE


async def test_personal_data_round_trips_and_is_found_by_email(db: Database, cipher: FieldCipher) -> None:
    alice = await db.transact(lambda uow: user_service.register(uow, 1))
    bob = await db.transact(lambda uow: user_service.register(uow, 2))
    await db.transact(lambda uow: user_service.save_personal_data(uow, cipher, alice.id, ALICE))
    await db.transact(lambda uow: user_service.save_personal_data(uow, cipher, bob.id, BOB))
    assert await db.transact(lambda uow: user_service.read_personal_data(uow, cipher, alice.id)) == ALICE
    found = await db.transact(lambda uow: user_service.find_by_email(uow, cipher, "  ALICE@example.com "))
    assert [user.id for user in found] == [alice.id]


async def test_bad_personal_data_is_refused_with_every_reason(db: Database, cipher: FieldCipher) -> None:
    alice = await db.transact(lambda uow: user_service.register(uow, 1))
    with pytest.raises(InvalidPersonalData) as refused:
        await db.transact(
            lambda uow: user_service.save_personal_data(
                uow, cipher, alice.id, PersonalData(email="not-an-email", country="France")
            )
        )
    assert len(refused.value.problems) == 2


async def test_a_ciphertext_moved_to_another_row_or_column_does_not_open(db: Database, cipher: FieldCipher) -> None:
    alice = await db.transact(lambda uow: user_service.register(uow, 1))
    bob = await db.transact(lambda uow: user_service.register(uow, 2))
    await db.transact(lambda uow: user_service.save_personal_data(uow, cipher, alice.id, ALICE))
    await db.transact(lambda uow: user_service.save_personal_data(uow, cipher, bob.id, BOB))

    async def copy(uow: UnitOfWork, source: str, target_id: object, target: str) -> None:
        sealed = (await uow.session.execute(text(f"SELECT {source} FROM users WHERE telegram_id = 1"))).scalar_one()
        await uow.session.execute(update(User).where(User.id == target_id).values({target: sealed}))

    await db.transact(lambda uow: copy(uow, "full_name", bob.id, "full_name"))  # Alice's name into Bob's row
    with pytest.raises(DecryptionError):
        await db.transact(lambda uow: user_service.read_personal_data(uow, cipher, bob.id))
    await db.transact(lambda uow: copy(uow, "email", alice.id, "phone"))  # Alice's email into her phone
    with pytest.raises(DecryptionError):
        await db.transact(lambda uow: user_service.read_personal_data(uow, cipher, alice.id))


async def test_rotation_leaves_no_value_under_an_old_key(db: Database) -> None:
    index = BlindIndex(b"i" * 32)
    old_key, new_key = generate_key(), generate_key()
    old = FieldCipher(Keyring.parse(f"old:{old_key}"), index)
    for telegram_id, data in ((1, ALICE), (2, BOB)):
        user = await db.transact(lambda uow, t=telegram_id: user_service.register(uow, t))
        await db.transact(lambda uow, u=user.id, d=data: user_service.save_personal_data(uow, old, u, d))

    both = Keyring.parse(f"new:{new_key},old:{old_key}")
    report = await rotate_keys(db, both, metadata, batch_size=1)
    assert (report.examined, report.resealed) == (8, 8)
    sealed = await db.transact(lambda uow: _all_sealed(uow))
    assert {Keyring.key_id_of(value) for value in sealed} == {"new"}

    only_new = FieldCipher(Keyring.parse(f"new:{new_key}"), index)
    users = await db.transact(lambda uow: user_service.find_by_email(uow, only_new, "bob@example.org"))
    assert await db.transact(lambda uow: user_service.read_personal_data(uow, only_new, users[0].id)) == BOB
    again = await rotate_keys(db, both, metadata)
    assert (again.examined, again.resealed) == (8, 0)


async def test_the_database_holds_no_personal_data_in_plain_text(
    db: Database, cipher: FieldCipher, tmp_path: Path
) -> None:
    alice = await db.transact(lambda uow: user_service.register(uow, 1))
    await db.transact(lambda uow: user_service.save_personal_data(uow, cipher, alice.id, ALICE))
    dump = await db.transact(_dump_everything)
    for secret in (b"alice moreau", b"alice@example.com", b"12 34 56"):
        assert secret not in dump.lower()
    if db.dialect == "sqlite":  # the file itself, write-ahead log included
        raw = _files_bytes(tmp_path)
        assert b"alice@example.com" not in raw
        assert b"Moreau" not in raw


def _files_bytes(folder: Path) -> bytes:
    return b"".join(path.read_bytes() for path in folder.glob("*.db*"))


async def _all_sealed(uow: UnitOfWork) -> list[bytes]:
    rows = await uow.session.execute(text("SELECT full_name, email, phone, country FROM users"))
    return [bytes(value) for row in rows for value in row if value is not None]


async def _dump_everything(uow: UnitOfWork) -> bytes:
    chunks = []
    for table in metadata.sorted_tables:
        for row in await uow.session.execute(text(f"SELECT * FROM {table.name}")):
            chunks.extend(
                bytes(value) if isinstance(value, bytes | memoryview) else str(value).encode() for value in row
            )
    return b"\x00".join(chunks)


async def test_users_are_found_by_id_and_telegram_id_and_roles_change(db: Database) -> None:
    user = await db.transact(lambda uow: user_service.register(uow, 31337))
    assert await db.transact(lambda uow: user_service.find_by_telegram_id(uow, 31337)) == user
    assert await db.transact(lambda uow: user_service.find_by_telegram_id(uow, 404)) is None
    admin = await db.transact(lambda uow: user_service.set_role(uow, user.id, Role.ADMIN))
    assert (await db.transact(lambda uow: user_service.get_user(uow, user.id))).role is Role.ADMIN == admin.role
