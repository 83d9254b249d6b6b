"""The composition root: the one place that builds the platform's parts from settings and wires them together.

Called inside the running event loop (never at import time). Tests and simulations pass their own clock and id
generator; everything else reads the same objects from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import Clock, SystemClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database
from core.ids import IdGenerator, Uuid7Generator


@dataclass
class Platform:
    settings: Settings
    clock: Clock
    ids: IdGenerator
    db: Database

    def field_cipher(self) -> FieldCipher:
        """The keys for personal data; raises ConfigurationError naming the missing setting."""
        return FieldCipher.from_settings(self.settings)

    async def close(self) -> None:
        await self.db.dispose()


def bootstrap(
    settings: Settings | None = None, *, clock: Clock | None = None, ids: IdGenerator | None = None
) -> Platform:
    settings = settings or Settings()
    clock = clock or SystemClock()
    ids = ids or Uuid7Generator(clock)
    return Platform(settings, clock, ids, Database.from_settings(settings, clock=clock, ids=ids))
