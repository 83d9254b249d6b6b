"""Identifier generation: time-ordered UUIDs (version 7, RFC 9562), injectable for repeatable runs.

Ids are made in Python, before the insert, because the ledger writes an entry's postings before the entry
itself (see ledger/store.py) and because encrypted values bind themselves to their row's id.
"""

from __future__ import annotations

import random
import secrets
import uuid
from typing import Protocol

from core.clock import Clock

_RANDOM_BITS = 74  # 12 bits of rand_a and 62 bits of rand_b


class IdGenerator(Protocol):
    def new_id(self) -> uuid.UUID: ...


class Uuid7Generator:
    """Monotonic UUIDv7s: within one millisecond the random part counts up, so ids sort by creation order.

    With a seeded `random.Random` (and a manual clock) the sequence is the same on every run.
    """

    def __init__(self, clock: Clock, rng: random.Random | None = None) -> None:
        self._clock = clock
        self._rng: random.Random = rng if rng is not None else secrets.SystemRandom()
        self._last_ms = -1
        self._last_random = 0

    def new_id(self) -> uuid.UUID:
        ms = int(self._clock.now().timestamp() * 1000)
        if ms > self._last_ms:
            # The top bit stays clear so that increments within the millisecond cannot overflow in practice.
            rand = self._rng.getrandbits(_RANDOM_BITS - 1)
        else:
            ms = self._last_ms
            rand = self._last_random + 1 + self._rng.getrandbits(16)
            if rand >= 1 << _RANDOM_BITS:
                ms, rand = ms + 1, self._rng.getrandbits(_RANDOM_BITS - 1)
        self._last_ms, self._last_random = ms, rand
        rand_a, rand_b = rand >> 62, rand & ((1 << 62) - 1)
        value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b
        return uuid.UUID(int=value)
