"""What an admin does to an investor's account: approve or reject their KYC, freeze or unfreeze them. Each is a
checked status move (core.users), recorded in the audit trail with the admin and the reason, and told to the
investor."""

from __future__ import annotations

from enum import StrEnum
from uuid import UUID

from core import audit, user_service
from core.db import UnitOfWork
from core.errors import InvalidTransition
from core.outbox import Message, publish
from core.users import UserRecord, UserStatus


class Review(StrEnum):
    KYC_APPROVE = "kyc_approve"
    KYC_REJECT = "kyc_reject"  # back to onboarding, to answer again
    FREEZE = "freeze"
    UNFREEZE = "unfreeze"


MOVES: dict[Review, tuple[UserStatus, UserStatus]] = {
    Review.KYC_APPROVE: (UserStatus.PENDING_KYC, UserStatus.ACTIVE),
    Review.KYC_REJECT: (UserStatus.PENDING_KYC, UserStatus.NEW),
    Review.FREEZE: (UserStatus.ACTIVE, UserStatus.FROZEN),
    Review.UNFREEZE: (UserStatus.FROZEN, UserStatus.ACTIVE),
}


async def review(uow: UnitOfWork, user_id: UUID, what: Review, admin: str, reason: str) -> UserRecord:
    before, after = MOVES[what]
    user = await user_service.get_user(uow, user_id)
    if user.status is not before:
        raise InvalidTransition("account", user.status.value, after.value)
    changed = await user_service.change_status(uow, user_id, after)
    facts = {"owner_id": str(user_id), "review": what.value, "status": after.value, "reason": reason[:300]}
    await publish(uow, [Message(f"account.{what.value}", f"review/{uow.ids.new_id()}", facts)])
    await audit.record(uow, admin, f"account.{what.value}", user_id, reason=reason[:300])
    return changed
