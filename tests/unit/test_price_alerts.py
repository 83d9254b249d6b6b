"""Price alerts and protective orders in memory: the trigger book finds exactly the levels a price reaches, and
alerts fire when their condition holds, never twice for one crossing, never inside their cooldown."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from hypothesis import example, given
from hypothesis import strategies as st

from alerts.engine import AlertEngine, Protective
from alerts.models import ProtectKind
from alerts.rules import Condition, PriceAlert
from alerts.triggers import TriggerBook

START = datetime(2026, 11, 2, 14, 30, tzinfo=UTC)
OWNER = uuid.UUID(int=1)
prices = st.decimals(min_value=Decimal("1.00"), max_value=Decimal("400.00"), places=2)


@given(
    levels=st.lists(st.tuples(st.integers(0, 3), prices, st.booleans()), max_size=60),
    probes=st.lists(st.tuples(st.integers(0, 3), prices), min_size=1, max_size=10),
    dropped=st.sets(st.integers(0, 59)),
)
def test_the_book_reaches_exactly_the_levels_a_brute_force_search_finds(
    levels: list[tuple[int, Decimal, bool]], probes: list[tuple[int, Decimal]], dropped: set[int]
) -> None:
    book: TriggerBook[int] = TriggerBook()
    for key, (con_id, level, upper) in enumerate(levels):
        book.place(key, con_id, level, upper=upper)
    for key in dropped:
        book.discard(key)
    kept = {key: spec for key, spec in enumerate(levels) if key not in dropped}
    for con_id, price in probes:
        expected = {
            key
            for key, (at, level, upper) in kept.items()
            if at == con_id and (price >= level if upper else price <= level)
        }
        assert set(book.reached(con_id, price)) == expected
    assert len(book) == len(kept)


def alert(condition: Condition, level: str, *, repeat: bool = False, reference: str | None = None) -> PriceAlert:
    return PriceAlert(
        id=uuid.uuid4(), owner_id=OWNER, con_id=1, symbol="AAPL", condition=condition, level=Decimal(level),
        reference=None if reference is None else Decimal(reference), repeat=repeat, cooldown=timedelta(minutes=10),
    )  # fmt: skip


def run(engine: AlertEngine, path: list[Decimal], step: timedelta = timedelta(minutes=1)) -> list[tuple[int, Decimal]]:
    """The path's prices, one a step; (tick number, price) of each firing."""
    fired = []
    for number, price in enumerate(path):
        found = engine.tick(1, price, START + step * number)
        fired += [(number, f.price) for f in found.fired]
    return fired


@given(path=st.lists(prices, min_size=1, max_size=80), level=prices)
def test_a_one_shot_alert_fires_once_on_the_first_price_past_its_level(path: list[Decimal], level: Decimal) -> None:
    engine = AlertEngine()
    engine.watch(alert(Condition.ABOVE, str(level)))
    first = next((number for number, price in enumerate(path) if price >= level), None)
    assert run(engine, path) == ([] if first is None else [(first, path[first])])
    assert len(engine) == (0 if first is not None else 1)


@given(path=st.lists(prices, min_size=1, max_size=120), level=prices)
@example(path=[Decimal("1.00")] * 11, level=Decimal("1.00"))  # sitting on the level is not coming back across it
def test_a_repeating_alert_fires_again_only_after_crossing_back_and_its_cooldown(
    path: list[Decimal], level: Decimal
) -> None:
    engine = AlertEngine()
    engine.watch(alert(Condition.BELOW, str(level), repeat=True))
    fired = run(engine, path)
    assert all(price <= level for _number, price in fired)
    for (before, _), (after, _) in itertools.pairwise(fired):
        assert after - before >= 10  # ten one-minute steps: the cooldown
        assert any(price > level for price in path[before + 1 : after])  # back above in between
    # A price sitting below the level the whole way fires once, however long it sits.
    if path and all(price <= level for price in path):
        assert [number for number, _ in fired] == [0]


@given(path=st.lists(prices, min_size=1, max_size=80), pct=st.integers(1, 20))
def test_a_move_alert_fires_on_each_move_of_its_size_from_the_last_firing(path: list[Decimal], pct: int) -> None:
    engine = AlertEngine()
    engine.watch(alert(Condition.MOVE, str(pct), repeat=True, reference="100.00"))
    reference, last = Decimal(100), None
    for number, price in run(engine, path, step=timedelta(minutes=11)):  # past the cooldown at every step
        assert abs(price - reference) * 100 >= pct * reference
        assert last is None or number > last
        reference, last = price, number


def test_a_stop_and_its_target_are_a_pair_one_hit_drops_the_other() -> None:
    engine = AlertEngine()
    stop = Protective(uuid.uuid4(), OWNER, 1, "AAPL", ProtectKind.STOP, Decimal(170), None)
    target = Protective(uuid.uuid4(), OWNER, 1, "AAPL", ProtectKind.TARGET, Decimal(220), None)
    other = Protective(uuid.uuid4(), uuid.UUID(int=2), 1, "AAPL", ProtectKind.STOP, Decimal(160), None)
    for order in (stop, target, other):
        engine.watch_protective(order)
    assert not engine.tick(1, Decimal(200), START)
    found = engine.tick(1, Decimal("169.99"), START)
    assert found.hit == [stop] and found.paired == [target]
    assert engine.tick(1, Decimal(230), START).hit == []  # the target went with the stop
    assert engine.tick(1, Decimal(150), START).hit == [other]
