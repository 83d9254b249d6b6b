"""Reading a copy's terms from a command's words (pure, no I/O):

/follow ALIAS alerts
/follow ALIAS copy AMOUNT [sl PCT] [tp PCT] [ratio X | fixed USD] [max USD] [open]
/copyedit ALIAS [sl PCT] [tp PCT] [ratio X | fixed USD | proportional] [max USD]
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from decimal import Decimal

from copytrade.terms import CopyMode, CopyTerms, Sizing
from core.errors import InvalidCommand

FOLLOW_USAGE = (
    "/follow ALIAS alerts, or /follow ALIAS copy AMOUNT [sl PCT] [tp PCT] [ratio X | fixed USD] [max USD] [open]"
)
EDIT_USAGE = "/copyedit ALIAS [sl PCT] [tp PCT] [ratio X | fixed USD | proportional] [max USD]"
ALIAS_WORD = re.compile(r"@?[A-Za-z][A-Za-z0-9_]{2,23}")
NUMBER = re.compile(r"\$?(\d{1,9}(\.\d{1,4})?)%?")


@dataclass(frozen=True)
class FollowArgs:
    alias: str | None  # None: ask for it
    terms: CopyTerms | None  # None: ask for them, step by step


def parse_follow(words: list[str]) -> FollowArgs:
    words = [w for w in (word.strip() for word in words) if w]
    if not words:
        return FollowArgs(None, None)
    alias = _alias(words[0], FOLLOW_USAGE)
    if len(words) == 1:
        return FollowArgs(alias, None)
    mode = words[1].lower()
    if mode == "alerts" and len(words) == 2:
        return FollowArgs(alias, CopyTerms(CopyMode.ALERTS))
    if mode != "copy" or len(words) < 3:
        raise InvalidCommand("say alerts, or copy and an amount", FOLLOW_USAGE)
    terms = CopyTerms(CopyMode.COPY, _number(words[2], "amount", FOLLOW_USAGE))
    return FollowArgs(alias, _options(terms, words[3:], FOLLOW_USAGE, allow_open=True))


def parse_edit(words: list[str], current: CopyTerms) -> tuple[str, CopyTerms]:
    words = [w for w in (word.strip() for word in words) if w]
    if len(words) < 2:
        raise InvalidCommand("name the leader and what to change", EDIT_USAGE)
    return _alias(words[0], EDIT_USAGE), _options(current, words[1:], EDIT_USAGE, allow_open=False)


def _options(terms: CopyTerms, words: list[str], usage: str, *, allow_open: bool) -> CopyTerms:
    index = 0
    while index < len(words):
        word = words[index].lower()
        if word == "open" and allow_open:
            terms, index = replace(terms, copy_open_positions=True), index + 1
            continue
        if word == "proportional":
            terms, index = replace(terms, sizing=Sizing.PROPORTIONAL, sizing_value=None), index + 1
            continue
        if index + 1 >= len(words):
            raise InvalidCommand(f"{words[index]!r} needs a number after it", usage)
        value = _number(words[index + 1], word, usage)
        if word == "sl":
            terms = replace(terms, stop_loss_pct=value)
        elif word == "tp":
            terms = replace(terms, take_profit_pct=value)
        elif word == "ratio":
            terms = replace(terms, sizing=Sizing.RATIO, sizing_value=value)
        elif word == "fixed":
            terms = replace(terms, sizing=Sizing.FIXED_AMOUNT, sizing_value=value)
        elif word == "max":
            terms = replace(terms, max_per_trade=value)
        else:
            raise InvalidCommand(f"I do not know the option {words[index]!r}", usage)
        index += 2
    return terms


def _alias(word: str, usage: str) -> str:
    if not ALIAS_WORD.fullmatch(word):
        raise InvalidCommand(f"{word!r} is not a leader's alias", usage)
    return word.lstrip("@")


def _number(word: str, what: str, usage: str) -> Decimal:
    found = NUMBER.fullmatch(word.replace(",", ""))
    if found is None:
        raise InvalidCommand(f"the {what} {word!r} is not a number", usage)
    return Decimal(found.group(1))
