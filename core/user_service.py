"""Services on users: registration, status and role changes, and sealed personal data."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from uuid import UUID

from sqlalchemy import bindparam, select

from core.crypto import FieldCipher, FieldRef
from core.db import UnitOfWork, insert_ignoring_conflicts
from core.errors import InvalidPersonalData, NotFound
from core.models import User
from core.sql import in_list
from core.users import PersonalData, Role, UserRecord, UserStatus, check_transition

PERSONAL_FIELDS = tuple(field.name for field in fields(PersonalData))


def _record(user: User) -> UserRecord:
    return UserRecord(
        id=user.id,
        telegram_id=user.telegram_id,
        status=user.status,
        role=user.role,
        language=user.language,
        created_at=user.created_at,
        updated_at=user.updated_at,
    )


async def register(uow: UnitOfWork, telegram_id: int, *, language: str = "en") -> UserRecord:
    """The user with this Telegram id, created as NEW on first contact; a repeated /start changes nothing."""
    now = uow.clock.now()
    await uow.session.execute(
        insert_ignoring_conflicts(uow, User).values(
            id=uow.ids.new_id(),
            telegram_id=telegram_id,
            status=UserStatus.NEW,
            role=Role.INVESTOR,
            language=language[:8],
            created_at=now,
            updated_at=now,
        )
    )
    user = await _by_telegram_id(uow, telegram_id)
    assert user is not None
    return _record(user)


_RECORD_COLUMNS = [User.__table__.c[name] for name in ("id", "telegram_id", "status", "role", "language")]
_BY_TELEGRAM_ID = select(*_RECORD_COLUMNS, User.__table__.c.created_at, User.__table__.c.updated_at).where(
    User.__table__.c.telegram_id == bindparam("telegram_id")
)


async def find_by_telegram_id(uow: UnitOfWork, telegram_id: int) -> UserRecord | None:
    """Every update from Telegram starts here: a plain statement, no ORM object to build."""
    row = (await uow.connection.execute(_BY_TELEGRAM_ID, {"telegram_id": telegram_id})).one_or_none()
    return None if row is None else UserRecord(**row._mapping)


async def get_user(uow: UnitOfWork, user_id: UUID, *, lock: bool = False) -> UserRecord:
    """The user; with `lock`, their row held until the transaction ends (one request of theirs at a time). The
    lock lets rows that refer to the user be written meanwhile (FOR NO KEY UPDATE on PostgreSQL): it waits only
    for another such lock, never for a withdrawal or a follow being recorded."""
    return _record(await _load(uow, user_id, for_update=lock, key_share=True))


async def active_among(uow: UnitOfWork, user_ids: Iterable[UUID]) -> set[UUID]:
    """Which of these users have an active account (in one read, whatever their number)."""
    ids = sorted(set(user_ids))
    if not ids:
        return set()
    query = select(User.id).where(in_list(User.id, "ids"), User.status == UserStatus.ACTIVE)
    return set((await uow.connection.execute(query, {"ids": ids})).scalars())


async def change_status(uow: UnitOfWork, user_id: UUID, status: UserStatus) -> UserRecord:
    user = await _load(uow, user_id, for_update=True)
    check_transition(user.status, status)
    user.status, user.updated_at = status, uow.clock.now()
    await uow.session.flush()
    return _record(user)


async def set_role(uow: UnitOfWork, user_id: UUID, role: Role) -> UserRecord:
    user = await _load(uow, user_id, for_update=True)
    user.role, user.updated_at = role, uow.clock.now()
    await uow.session.flush()
    return _record(user)


async def save_personal_data(uow: UnitOfWork, cipher: FieldCipher, user_id: UUID, data: PersonalData) -> None:
    """Seal and store the given fields; a field left None keeps its stored value."""
    problems = data.problems()
    if problems:
        raise InvalidPersonalData(problems)
    user = await _load(uow, user_id, for_update=True)
    for name in PERSONAL_FIELDS:
        value = getattr(data, name)
        if value is not None:
            setattr(user, name, cipher.keyring.seal(value.strip(), _where(user, name)))
    if data.email is not None:
        user.email_index = cipher.blind_index.digest("email", data.email)
    user.updated_at = uow.clock.now()
    await uow.session.flush()


async def read_personal_data(uow: UnitOfWork, cipher: FieldCipher, user_id: UUID) -> PersonalData:
    user = await _load(uow, user_id)
    opened = {}
    for name in PERSONAL_FIELDS:
        sealed = getattr(user, name)
        opened[name] = None if sealed is None else cipher.keyring.open(sealed, _where(user, name))
    return PersonalData(**opened)


async def find_by_email(uow: UnitOfWork, cipher: FieldCipher, email: str) -> list[UserRecord]:
    digest = cipher.blind_index.digest("email", email)
    users = await uow.session.scalars(select(User).where(User.email_index == digest).order_by(User.id))
    return [_record(user) for user in users]


def _where(user: User, column: str) -> FieldRef:
    return FieldRef(User.__tablename__, column, str(user.id))


async def _by_telegram_id(uow: UnitOfWork, telegram_id: int) -> User | None:
    result = await uow.session.scalars(select(User).where(User.telegram_id == telegram_id))
    return result.one_or_none()


async def _load(uow: UnitOfWork, user_id: UUID, *, for_update: bool = False, key_share: bool = False) -> User:
    query = select(User).where(User.id == user_id)
    if for_update:
        query = query.with_for_update(key_share=key_share)
    user = (await uow.session.scalars(query)).one_or_none()
    if user is None:
        raise NotFound("user", user_id)
    return user
