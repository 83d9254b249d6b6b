"""Onboarding a new user, one answer at a time: terms, full name, email, country, then a short risk questionnaire;
then the account waits for KYC (pending_kyc) until an admin approves it, or is approved at once where the
operator says so (the demo). Progress is kept in the database, so any bot process can take the next answer.

    TERMS -> NAME -> EMAIL -> COUNTRY -> EXPERIENCE -> HORIZON -> LOSS -> DONE
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from sqlalchemy import select

from core import user_service
from core.crypto import FieldCipher, FieldRef
from core.db import UnitOfWork
from core.errors import InvalidPersonalData, OnboardingAnswerRefused
from core.models import Onboarding
from core.users import PersonalData, UserRecord, UserStatus


class Step(StrEnum):
    TERMS = "terms"
    NAME = "name"
    EMAIL = "email"
    COUNTRY = "country"
    EXPERIENCE = "experience"
    HORIZON = "horizon"
    LOSS = "loss"
    DONE = "done"


ORDER = list(Step)


@dataclass(frozen=True)
class Question:
    text: str
    choices: tuple[tuple[str, str], ...]  # (stored value, what the button says)


QUESTIONNAIRE: dict[Step, Question] = {
    Step.EXPERIENCE: Question(
        "How much experience do you have with investing in shares?",
        (("none", "None"), ("some", "Some"), ("extensive", "Extensive")),
    ),
    Step.HORIZON: Question(
        "For how long do you plan to invest this money?",
        (("short", "Under a year"), ("medium", "1 to 5 years"), ("long", "Over 5 years")),
    ),
    Step.LOSS: Question(
        "How much of it could you lose without changing your life?",
        (("none", "None of it"), ("some", "Up to 20 %"), ("more", "More than 20 %")),
    ),
}


@dataclass(frozen=True)
class Progress:
    user: UserRecord
    step: Step


async def begin(uow: UnitOfWork, telegram_id: int, language: str = "en") -> Progress:
    """The user (registered on first contact) and where they are; a user past onboarding is at DONE."""
    user = await user_service.register(uow, telegram_id, language=language)
    if user.status is not UserStatus.NEW:
        return Progress(user, Step.DONE)
    row = await _row(uow, user.id)
    if row is None:
        row = Onboarding(user_id=user.id, step=Step.TERMS.value, updated_at=uow.clock.now())
        uow.session.add(row)
        await uow.session.flush()
    return Progress(user, Step(row.step))


async def accept_terms(uow: UnitOfWork, user_id: UUID) -> Step:
    row = await _at(uow, user_id, Step.TERMS)
    row.terms_accepted_at = uow.clock.now()
    return await _advance(uow, row)


async def answer(uow: UnitOfWork, cipher: FieldCipher, user_id: UUID, text: str, auto_approve: bool) -> Step:
    """Take a typed answer (name, email or country) or a questionnaire choice for the step the user is at."""
    row = await _row(uow, user_id, lock=True)
    if row is None or row.step in (Step.TERMS, Step.DONE):
        raise OnboardingAnswerRefused("there is no question waiting for an answer")
    step, value = Step(row.step), text.strip()
    if step in QUESTIONNAIRE:
        if value not in {stored for stored, _label in QUESTIONNAIRE[step].choices}:
            raise OnboardingAnswerRefused("please choose one of the answers offered")
        answers = _answers(cipher, row) | {step.value: value}
        row.risk_answers = cipher.keyring.seal(json.dumps(answers), _where(user_id))
    else:
        field = {Step.NAME: "full_name", Step.EMAIL: "email", Step.COUNTRY: "country"}[step]
        data = PersonalData(**{field: value.upper() if step is Step.COUNTRY else value})
        try:
            await user_service.save_personal_data(uow, cipher, user_id, data)
        except InvalidPersonalData as refused:
            raise OnboardingAnswerRefused("; ".join(refused.problems)) from None
    next_step = await _advance(uow, row)
    if next_step is Step.DONE:
        await user_service.change_status(uow, user_id, UserStatus.PENDING_KYC)
        if auto_approve:
            await user_service.change_status(uow, user_id, UserStatus.ACTIVE)
    return next_step


async def risk_answers(uow: UnitOfWork, cipher: FieldCipher, user_id: UUID) -> dict[str, str]:
    row = await _row(uow, user_id)
    return {} if row is None else _answers(cipher, row)


def _answers(cipher: FieldCipher, row: Onboarding) -> dict[str, str]:
    if row.risk_answers is None:
        return {}
    loaded: dict[str, str] = json.loads(cipher.keyring.open(row.risk_answers, _where(row.user_id)))
    return loaded


async def _advance(uow: UnitOfWork, row: Onboarding) -> Step:
    step = ORDER[ORDER.index(Step(row.step)) + 1]
    row.step, row.updated_at = step.value, uow.clock.now()
    await uow.session.flush()
    return step


async def _at(uow: UnitOfWork, user_id: UUID, step: Step) -> Onboarding:
    row = await _row(uow, user_id, lock=True)
    if row is None or row.step != step.value:
        raise OnboardingAnswerRefused("that step is already behind you")
    return row


async def _row(uow: UnitOfWork, user_id: UUID, *, lock: bool = False) -> Onboarding | None:
    query = select(Onboarding).where(Onboarding.user_id == user_id)
    return (await uow.session.scalars(query.with_for_update() if lock else query)).one_or_none()


def _where(user_id: UUID) -> FieldRef:
    return FieldRef(Onboarding.__tablename__, "risk_answers", str(user_id))
