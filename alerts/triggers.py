"""Price levels waiting to be reached, per instrument: an upper level fires when the price is at or above it, a
lower one at or below. Each side is a sorted list, so a tick costs a binary search plus the levels it reaches,
however many wait (10,000 alerts over 100 instruments: a few microseconds a tick). Pure: no I/O, no clock."""

from __future__ import annotations

from bisect import bisect_left, bisect_right, insort
from collections import defaultdict
from collections.abc import Hashable
from decimal import Decimal
from itertools import count
from typing import Generic, TypeVar

Key = TypeVar("Key", bound=Hashable)
_Level = tuple[Decimal, int, Key]  # (price, insertion number: a stable order among equal prices, key)


class TriggerBook(Generic[Key]):
    def __init__(self) -> None:
        self._upper: defaultdict[int, list[_Level[Key]]] = defaultdict(list)
        self._lower: defaultdict[int, list[_Level[Key]]] = defaultdict(list)
        self._placed: dict[Key, tuple[int, bool, _Level[Key]]] = {}
        self._numbers = count()

    def __len__(self) -> int:
        return len(self._placed)

    def __contains__(self, key: object) -> bool:
        return key in self._placed

    def place(self, key: Key, con_id: int, level: Decimal, *, upper: bool) -> None:
        """Wait for the price to reach `level` (from below when `upper`, from above otherwise); a key set
        before is moved."""
        self.discard(key)
        entry: _Level[Key] = (level, next(self._numbers), key)
        insort((self._upper if upper else self._lower)[con_id], entry)
        self._placed[key] = (con_id, upper, entry)

    def discard(self, key: Key) -> None:
        placed = self._placed.pop(key, None)
        if placed is None:
            return
        con_id, upper, entry = placed
        side = (self._upper if upper else self._lower)[con_id]
        del side[bisect_left(side, entry)]
        if not side:
            del (self._upper if upper else self._lower)[con_id]

    def reached(self, con_id: int, price: Decimal) -> list[Key]:
        """The keys whose level this price reaches (they stay set: the caller discards or moves them)."""
        found: list[Key] = []
        upper = self._upper.get(con_id)
        if upper:
            found += [entry[2] for entry in upper[: bisect_right(upper, price, key=_price)]]
        lower = self._lower.get(con_id)
        if lower:
            found += [entry[2] for entry in lower[bisect_left(lower, price, key=_price) :]]
        return found

    def instruments(self) -> set[int]:
        return set(self._upper) | set(self._lower)


def _price(entry: _Level[Key]) -> Decimal:
    return entry[0]
