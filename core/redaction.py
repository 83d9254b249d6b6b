"""Secrets kept out of the logs, whatever a message or a traceback carries.

Settings hold secrets as secret strings, so they do not print; but a library may still put one in a message: a
driver's error quoting the database URL, an HTTP client logging a request to api.telegram.org/bot<token>/. This
filter, on every handler of the root logger, replaces each configured secret (and the password inside the
database URL, and anything shaped like a Telegram bot token) with `***` in the message and in the traceback.
"""

from __future__ import annotations

import logging
import re

from pydantic import SecretStr
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from core.config import Settings

MASK = "***"
BOT_TOKEN = re.compile(r"(?<!\d)\d{6,12}:[A-Za-z0-9_-]{30,}")
SHORTEST = 6  # a shorter "secret" (a test value) would mask ordinary words


def secrets_of(settings: Settings) -> list[str]:
    """Every secret value in the settings, longest first; for a keyring, each key as well as the whole."""
    found: set[str] = set()
    for name in type(settings).model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr) and value.get_secret_value():
            secret = value.get_secret_value()
            found.add(secret)
            found.update(part.partition(":")[2] for part in secret.split(","))  # keyring "id:key,id:key"
    try:
        password = make_url(settings.database_url.get_secret_value()).password
    except ArgumentError:
        password = None
    if password:
        found.add(str(password))
    return sorted((s for s in found if len(s) >= SHORTEST), key=len, reverse=True)


class Redactor(logging.Filter):
    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self._secrets = secrets

    def redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, MASK)
        return BOT_TOKEN.sub(MASK, text)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except (TypeError, ValueError, KeyError):  # a malformed call: keep the words, drop the arguments
            message = f"{record.msg} (its arguments did not fit the message)"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        return True


def install(settings: Settings) -> Redactor:
    """Put a redactor on every handler of the root logger (a logger's own filter would miss records that
    propagate from its children); one installed earlier is replaced."""
    redactor = Redactor(secrets_of(settings))
    for handler in logging.getLogger().handlers:
        for old in [f for f in handler.filters if isinstance(f, Redactor)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    return redactor
