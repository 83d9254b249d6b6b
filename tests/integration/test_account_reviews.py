"""An admin's reviews of an account: KYC approved or sent back, frozen and unfrozen, each a checked move,
audited with the admin and the reason, and told to the investor."""

from __future__ import annotations

import pytest

from core import account_reviews, audit, user_service
from core.account_reviews import Review
from core.db import Database
from core.errors import InvalidTransition
from core.outbox import messages
from core.users import UserStatus
from tests.support import new_investor


async def test_reviews_move_the_account_audit_the_admin_and_tell_the_investor(db: Database) -> None:
    owner = await new_investor(db)
    await db.transact(lambda uow: user_service.change_status(uow, owner, UserStatus.PENDING_KYC))
    with pytest.raises(InvalidTransition):
        await db.transact(lambda uow: account_reviews.review(uow, owner, Review.FREEZE, "admin:1", "why"))
    sent_back = await db.transact(
        lambda uow: account_reviews.review(uow, owner, Review.KYC_REJECT, "admin:1", "blurry")
    )
    assert sent_back.status is UserStatus.NEW
    await db.transact(lambda uow: user_service.change_status(uow, owner, UserStatus.PENDING_KYC))
    steps = [
        (Review.KYC_APPROVE, UserStatus.ACTIVE),
        (Review.FREEZE, UserStatus.FROZEN),
        (Review.UNFREEZE, UserStatus.ACTIVE),
    ]
    for what, status in steps:
        changed = await db.transact(lambda uow, w=what: account_reviews.review(uow, owner, w, "admin:1", "checked"))
        assert changed.status is status
    told = [m for m in await db.transact(lambda uow: messages(uow)) if m.payload.get("owner_id") == str(owner)]
    assert [m.topic for m in told] == [
        "account.kyc_reject",
        "account.kyc_approve",
        "account.freeze",
        "account.unfreeze",
    ]
    checked = await db.transact(audit.verify, readonly=True)
    assert checked.whole and checked.rows == 4
