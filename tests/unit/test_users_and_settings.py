"""User states and personal data checks; settings and their documentation."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from core.config import DEFAULT_DATABASE_URL, Settings
from core.errors import InvalidTransition
from core.users import ALLOWED_TRANSITIONS, PersonalData, UserStatus, check_transition

DOCS = Path(__file__).resolve().parents[2] / "docs" / "configuration.md"


def test_closed_is_final_and_kyc_comes_before_activity() -> None:
    assert ALLOWED_TRANSITIONS[UserStatus.CLOSED] == frozenset()
    with pytest.raises(InvalidTransition):
        check_transition(UserStatus.NEW, UserStatus.ACTIVE)
    with pytest.raises(InvalidTransition):
        check_transition(UserStatus.CLOSED, UserStatus.ACTIVE)
    check_transition(UserStatus.FROZEN, UserStatus.ACTIVE)


def test_personal_data_problems_are_named() -> None:
    assert PersonalData("Ada Lovelace", "ada@example.com", "+44 20 7946 0958", "GB").problems() == []
    problems = PersonalData("", "ada@", "call me", "gb").problems()
    assert len(problems) == 4 and all(problem[0].islower() for problem in problems)


def test_settings_come_from_prefixed_environment_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIBOT_DATABASE_URL", "postgresql://omnibot@db/omnibot")
    monkeypatch.setenv("OMNIBOT_DATABASE_POOL_SIZE", "25")
    settings = Settings(_env_file=None)
    assert settings.database_url.get_secret_value() == "postgresql://omnibot@db/omnibot"
    assert settings.database_pool_size == 25
    assert "omnibot@db" not in repr(settings)  # secrets never show


def test_the_embedded_database_is_the_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OMNIBOT_DATABASE_URL", raising=False)
    assert Settings(_env_file=None).database_url.get_secret_value() == DEFAULT_DATABASE_URL
    assert DEFAULT_DATABASE_URL == "sqlite+aiosqlite:///./omnibot.db"


def test_bad_settings_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIBOT_DATABASE_POOL_SIZE", "0")
    with pytest.raises(ValidationError, match="database_pool_size"):
        Settings(_env_file=None)


def test_every_setting_is_documented() -> None:
    documented = set(re.findall(r"`(OMNIBOT_[A-Z_]+)`", DOCS.read_text()))
    expected = {f"OMNIBOT_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings missing from docs/configuration.md"
    assert documented - expected == set(), "docs/configuration.md documents settings that do not exist"
