"""Reading price alerts and protective orders from a command's words. Pure: no I/O.

/alert AAPL above 200            /alert AAPL below 150 repeat        /alert AAPL move 5% repeat 2h
/stop AAPL 170 [QUANTITY]        /target AAPL 220 [QUANTITY]
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from alerts.models import ProtectKind
from alerts.rules import Condition
from core.errors import InvalidCommand

from .order_args import SYMBOL

ALERT_USAGE = "/alert SYMBOL above|below PRICE, or /alert SYMBOL move PERCENT%, then [repeat [30m|2h|1d]]"
PRICE = re.compile(r"\$?(\d{1,7}(?:\.\d{1,4})?)")
PERCENT = re.compile(r"(\d{1,2}(?:\.\d{1,2})?)%?")
COOLDOWN = re.compile(r"(\d{1,4})([mhd])")
UNITS = {"m": timedelta(minutes=1), "h": timedelta(hours=1), "d": timedelta(days=1)}


@dataclass(frozen=True)
class AlertArgs:
    symbol: str
    condition: Condition
    level: Decimal
    repeat: bool
    cooldown: timedelta | None  # None: the platform's default


@dataclass(frozen=True)
class ProtectArgs:
    symbol: str
    kind: ProtectKind
    trigger: Decimal
    quantity: Decimal | None  # None: the whole position


def parse_alert(words: list[str]) -> AlertArgs:
    words = [word.strip().lower() for word in words if word.strip()]
    if len(words) < 3:
        raise InvalidCommand("an alert needs a share, a condition and a level", ALERT_USAGE)
    symbol = _symbol(words[0], ALERT_USAGE)
    try:
        condition = Condition(words[1])
    except ValueError:
        raise InvalidCommand(f"{words[1]!r} is not above, below or move", ALERT_USAGE) from None
    pattern = PERCENT if condition is Condition.MOVE else PRICE
    found = pattern.fullmatch(words[2])
    if found is None or Decimal(found[1]) <= 0:
        what = "a percentage, such as 5%" if condition is Condition.MOVE else "a price, such as 189.50"
        raise InvalidCommand(f"{words[2]!r} is not {what}", ALERT_USAGE)
    rest = words[3:]
    repeat = bool(rest) and rest[0] == "repeat"
    cooldown = None
    if repeat and len(rest) == 2:
        every = COOLDOWN.fullmatch(rest[1])
        if every is None or int(every[1]) == 0:
            raise InvalidCommand(f"{rest[1]!r} is not a cooldown, such as 30m, 2h or 1d", ALERT_USAGE)
        cooldown = UNITS[every[2]] * int(every[1])
    if (rest and not repeat) or len(rest) > 2:
        raise InvalidCommand("there are words I cannot place", ALERT_USAGE)
    return AlertArgs(symbol, condition, Decimal(found[1]), repeat, cooldown)


def protect_usage(kind: ProtectKind) -> str:
    return f"/{kind.value} SYMBOL PRICE [QUANTITY]"


def parse_protect(kind: ProtectKind, words: list[str]) -> ProtectArgs:
    words = [word.strip() for word in words if word.strip()]
    usage = protect_usage(kind)
    if len(words) not in (2, 3):
        raise InvalidCommand(f"a {kind.value} needs a share and a price", usage)
    symbol = _symbol(words[0], usage)
    price = PRICE.fullmatch(words[1])
    if price is None or Decimal(price[1]) <= 0:
        raise InvalidCommand(f"{words[1]!r} is not a price, such as 170.00", usage)
    quantity = None
    if len(words) == 3:
        if not (words[2].isascii() and words[2].isdigit() and 0 < int(words[2]) <= 1_000_000):
            raise InvalidCommand(f"{words[2]!r} is not a number of shares", usage)
        quantity = Decimal(words[2])
    return ProtectArgs(symbol, kind, Decimal(price[1]), quantity)


def _symbol(word: str, usage: str) -> str:
    symbol = word.upper().lstrip("$")
    if not SYMBOL.fullmatch(symbol):
        raise InvalidCommand(f"{word!r} is not a share symbol", usage)
    return symbol
