"""What the bot's handlers reach the platform through: one typed object, built by the composition root."""

from __future__ import annotations

from dataclasses import dataclass

from core.clock import Clock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database


@dataclass
class Services:
    settings: Settings
    db: Database
    clock: Clock
    cipher: FieldCipher
