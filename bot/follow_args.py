"""A copy's terms, from a command's words or from the guided flow's draft (pure, no I/O). The words:

/follow ALIAS alerts
/follow ALIAS copy AMOUNT [sl PCT] [tp PCT] [ratio X | fixed USD] [max USD] [open]
/copyedit ALIAS [sl PCT] [tp PCT] [ratio X | fixed USD | proportional] [max USD]
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

from copytrade.terms import CopyMode, CopyTerms, Sizing
from core.errors import InvalidCommand

from .render import esc

FOLLOW_USAGE = (
    "/follow ALIAS alerts, or /follow ALIAS copy AMOUNT [sl PCT] [tp PCT] [ratio X | fixed USD] [max USD] [open]"
)
EDIT_USAGE = "/copyedit ALIAS [sl PCT] [tp PCT] [ratio X | fixed USD | proportional] [max USD]"
AMOUNTS = ("1000", "5000", "10000", "25000")
STOP_LOSSES = ("10", "20", "30", "50")
TAKE_PROFITS = ("0", "25", "50", "100")
MAXIMA = (1000, 5000)
DRAFT_NUMBER = re.compile(r"\d{1,9}(\.\d{1,4})?")
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


# ---- the guided flow: a draft (a pending action's payload, strings only) step by step


def next_question(draft: dict[str, Any], minimum: Decimal) -> tuple[str | None, list[tuple[str, str]]]:
    if "mode" not in draft:
        return "alerts for each of their trades, or copy them with your money?", [
            ("Alerts only", "m:alerts"), ("Copy trades", "m:copy")
        ]  # fmt: skip
    if draft["mode"] == CopyMode.ALERTS.value:
        return None, []
    if "amount" not in draft:
        amounts = [str(minimum.normalize()), *(a for a in AMOUNTS if Decimal(a) > minimum)]
        return (
            "how much to put in? It moves from your free cash into the copy. (Another amount: "
            f"<code>/follow {esc(draft['alias'])} copy AMOUNT</code>)",
            [(f"${Decimal(a):,.0f}", f"a:{a}") for a in amounts[:4]],
        )
    if "sizing" not in draft:
        return "how big should each copied trade be?", [
            ("In proportion", "z:p"), ("$500 a trade", "z:f500"), ("$1,000 a trade", "z:f1000"),
            ("1 share per share", "z:r1"),
        ]  # fmt: skip
    if "max" not in draft:
        return "at most how much per trade?", [("No maximum", "x:0"), *((f"${m:,}", f"x:{m}") for m in MAXIMA)]
    if "sl" not in draft:
        return "close the copy if it loses how much of what you put in?", [(f"{p}%", f"s:{p}") for p in STOP_LOSSES]
    if "tp" not in draft:
        return "close it after a gain of?", [("No", "t:0"), *((f"{p}%", f"t:{p}") for p in TAKE_PROFITS[1:])]
    if "open" not in draft:
        return "buy into their open positions now, or copy new trades only?", [
            ("Open positions too", "o:1"), ("New trades only", "o:0")
        ]  # fmt: skip
    return None, []


def chosen(field: str, value: str) -> dict[str, str | None] | None:
    """What a step's button sets in the draft; None for data no button of ours carries."""
    if field == "m" and value in (CopyMode.ALERTS.value, CopyMode.COPY.value):
        return {"mode": value}
    if field == "z" and (value == "p" or (value[:1] in ("f", "r") and DRAFT_NUMBER.fullmatch(value[1:]))):
        kind = {"p": Sizing.PROPORTIONAL, "f": Sizing.FIXED_AMOUNT, "r": Sizing.RATIO}[value[0]]
        return {"sizing": kind.value, "value": value[1:] or None}
    key = {"a": "amount", "x": "max", "s": "sl", "t": "tp", "o": "open"}.get(field)
    return {key: value} if key is not None and DRAFT_NUMBER.fullmatch(value) else None


def draft_of(terms: CopyTerms) -> dict[str, Any]:
    values = {key: None if value is None else str(value) for key, value in asdict(terms).items()}
    return {
        "mode": terms.mode.value,
        "amount": values["amount"],
        "sl": values["stop_loss_pct"],
        "tp": values["take_profit_pct"] or "0",
        "open": "1" if terms.copy_open_positions else "0",
        "sizing": terms.sizing.value,
        "value": values["sizing_value"],
        "max": values["max_per_trade"],
    }


def terms_of(draft: dict[str, Any]) -> CopyTerms:
    def number(key: str) -> Decimal | None:
        value = draft.get(key)
        return None if value in (None, "", "0") else Decimal(value)

    return CopyTerms(
        CopyMode(draft["mode"]),
        number("amount") or Decimal(0),
        Sizing(draft.get("sizing") or Sizing.PROPORTIONAL.value),
        number("value"),
        number("max"),
        number("sl"),
        number("tp"),
        draft.get("open") == "1",
    )
