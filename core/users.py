"""Users: who they are to the platform (status, role, language) and their personal data, as plain values."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID

from core.errors import InvalidTransition


class UserStatus(StrEnum):
    NEW = "new"
    PENDING_KYC = "pending_kyc"
    ACTIVE = "active"
    FROZEN = "frozen"
    CLOSED = "closed"


class Role(StrEnum):
    INVESTOR = "investor"
    ADMIN = "admin"


# A rejected KYC goes back to NEW for another try; a frozen user is restored to where the admin decides.
ALLOWED_TRANSITIONS: dict[UserStatus, frozenset[UserStatus]] = {
    UserStatus.NEW: frozenset({UserStatus.PENDING_KYC, UserStatus.CLOSED}),
    UserStatus.PENDING_KYC: frozenset({UserStatus.ACTIVE, UserStatus.NEW, UserStatus.FROZEN, UserStatus.CLOSED}),
    UserStatus.ACTIVE: frozenset({UserStatus.FROZEN, UserStatus.CLOSED}),
    UserStatus.FROZEN: frozenset({UserStatus.ACTIVE, UserStatus.PENDING_KYC, UserStatus.CLOSED}),
    UserStatus.CLOSED: frozenset(),
}


def check_transition(current: UserStatus, requested: UserStatus) -> None:
    if requested not in ALLOWED_TRANSITIONS[current]:
        raise InvalidTransition("user", current.value, requested.value)


@dataclass(frozen=True)
class UserRecord:
    id: UUID
    telegram_id: int
    status: UserStatus
    role: Role
    language: str
    created_at: datetime
    updated_at: datetime


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_COUNTRY = re.compile(r"[A-Z]{2}")


@dataclass(frozen=True)
class PersonalData:
    """What the platform knows of a person; stored sealed, one column each. None means not given."""

    full_name: str | None = None
    email: str | None = None
    phone: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2

    def problems(self) -> list[str]:
        """What is wrong with these values, in words a person can act on (empty when all is well)."""
        found = []
        if self.full_name is not None and not 1 <= len(self.full_name.strip()) <= 200:
            found.append("the full name must have 1 to 200 characters")
        if self.email is not None and not (_EMAIL.fullmatch(self.email) and len(self.email) <= 254):
            found.append("the email address is not valid")
        if self.phone is not None and not re.fullmatch(r"\+?[0-9 ()-]{6,24}", self.phone):
            found.append("the phone number may hold only digits, spaces, ( ) - and a leading +")
        if self.country is not None and not _COUNTRY.fullmatch(self.country):
            found.append("the country is a two-letter ISO code, such as US or DE")
        return found
