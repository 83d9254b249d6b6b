"""The process's logs: one JSON object a line in production (time, level, logger, message, the ids bound to
the task, the exception), readable lines in development. `OMNIBOT_LOG_FORMAT` chooses otherwise.

Ids are bound per task (`bind`, a context variable: each Telegram update and each background task carries its
own), so every line written while an update is handled names its user and order. Only our own ids (UUIDs) are
bound, never a name, a Telegram id or an amount. Secrets are masked before any formatter sees the record
(core/redaction.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from types import MappingProxyType
from typing import IO, Literal

_IDS: ContextVar[Mapping[str, str]] = ContextVar("omnibot_log_ids", default=MappingProxyType({}))
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s%(ids_text)s"


def bind(**ids: object) -> None:
    """Name these ids on every line this task (and the tasks it starts) logs from now on."""
    _IDS.set({**_IDS.get(), **{name: str(value) for name, value in ids.items() if value is not None}})


@contextmanager
def bound(**ids: object) -> Iterator[None]:
    """Name these ids on every line logged inside the block."""
    token = _IDS.set({**_IDS.get(), **{name: str(value) for name, value in ids.items() if value is not None}})
    try:
        yield
    finally:
        _IDS.reset(token)


class BoundIds(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        ids = dict(_IDS.get())
        record.ids = ids
        record.ids_text = f" [{' '.join(f'{name}={value}' for name, value in sorted(ids.items()))}]" if ids else ""
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {
            "at": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **getattr(record, "ids", {}),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, ensure_ascii=False)


def configure(level: str, form: Literal["json", "text"], stream: IO[str] | None = None) -> None:
    """One handler on the root logger (to stderr, or `stream`), in this form at this level, replacing what was
    there. Call it before core.redaction.install, which puts its filter on the root's handlers."""
    handler = logging.StreamHandler(stream)
    handler.addFilter(BoundIds())
    handler.setFormatter(JsonFormatter() if form == "json" else logging.Formatter(TEXT_FORMAT))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its request lines carry the bot's token in the URL
