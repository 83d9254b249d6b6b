"""The injectable clock and time-ordered ids."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from core.clock import ManualClock, SystemClock, require_utc
from core.ids import Uuid7Generator

START = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def test_times_are_aware_and_in_utc() -> None:
    assert SystemClock().now().tzinfo is UTC
    with pytest.raises(ValueError, match="naive"):
        require_utc(datetime(2026, 1, 1))  # noqa: DTZ001
    paris = datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=1)))
    assert require_utc(paris) == datetime(2026, 1, 1, 11, tzinfo=UTC)


def test_a_manual_clock_moves_only_forward_and_only_when_told() -> None:
    clock = ManualClock(START)
    assert clock.now() == clock.now() == START
    assert clock.advance(timedelta(seconds=5)) == START + timedelta(seconds=5)
    with pytest.raises(ValueError, match="backwards"):
        clock.advance(timedelta(seconds=-1))
    with pytest.raises(ValueError, match="backwards"):
        clock.set(START)


def test_ids_are_version_7_sorted_by_creation_even_within_a_millisecond() -> None:
    clock = ManualClock(START)
    ids = Uuid7Generator(clock, random.Random(1))
    made = [ids.new_id() for _ in range(1000)]
    clock.advance(timedelta(milliseconds=1))
    made += [ids.new_id() for _ in range(10)]
    assert made == sorted(made) and len(set(made)) == len(made)
    assert {u.version for u in made} == {7} and {u.variant for u in made} == {"specified in RFC 4122"}
    assert int(made[0].hex[:12], 16) == int(START.timestamp() * 1000)


def test_seeded_ids_repeat_exactly() -> None:
    def run() -> list[object]:
        ids = Uuid7Generator(ManualClock(START), random.Random(42))
        return [ids.new_id() for _ in range(5)]

    assert run() == run()
