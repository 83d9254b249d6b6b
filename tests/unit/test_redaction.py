"""Secrets kept out of the logs: in messages, in their arguments and in tracebacks."""

from __future__ import annotations

import io
import logging

from core.config import Settings
from core.redaction import Redactor, secrets_of

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"
KEYRING = "k2:c2VjcmV0LWtleS1udW1iZXItdHdvLTMyLWJ5dGVzIQ,k1:b2xkLWtleS1vbmUtdGhhdC1pcy1zdGlsbC1yZWFkYWJsZQ"


def logged(settings: Settings, emit: object) -> str:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(Redactor(secrets_of(settings)))
    logger = logging.getLogger("test.redaction")
    logger.addHandler(handler)
    try:
        assert callable(emit)
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue()


def test_secrets_and_the_database_password_are_masked_in_messages_and_tracebacks() -> None:
    settings = Settings(
        telegram_token=TOKEN,
        database_url="postgresql+asyncpg://omnibot:hunter2-s3cret@db:5432/omnibot",
        encryption_keys=KEYRING,
        payments_webhook_secret="whsec-0123456789",
    )

    def emit(logger: logging.Logger) -> None:
        logger.warning("POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
        logger.warning("cannot connect to %s", "postgresql://omnibot:hunter2-s3cret@db/omnibot")
        logger.warning("key %s, webhook %s", KEYRING.split(",")[1].partition(":")[2], "whsec-0123456789")
        try:
            raise RuntimeError("bad password hunter2-s3cret")
        except RuntimeError:
            logger.exception("failed")

    text = logged(settings, emit)
    for secret in (TOKEN, "hunter2-s3cret", "b2xkLWtleS1vbmUtdGhhdC1pcy1zdGlsbC1yZWFkYWJsZQ", "whsec-0123456789"):
        assert secret not in text
    assert "bot***/getUpdates" in text and "omnibot:***@db" in text and "key ***, webhook ***" in text
    assert "RuntimeError: bad password ***" in text  # the traceback too


def test_a_bot_token_is_masked_even_when_it_is_not_the_configured_one() -> None:
    text = logged(Settings(), lambda logger: logger.warning("url /bot987654321:%s/x", "Z" * 35))
    assert "ZZZZ" not in text and "/bot***/x" in text
