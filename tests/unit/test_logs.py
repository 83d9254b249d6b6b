"""The process's log lines: JSON in production with the ids bound to the task, readable in development, and
secrets masked in both (the redactor runs before the formatter)."""

from __future__ import annotations

import asyncio
import io
import json
import logging
from collections.abc import Iterator

import pytest

from core import logs, redaction
from core.config import Settings

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"


@pytest.fixture
def root_kept() -> Iterator[None]:
    """configure() replaces the root logger's handlers: put back pytest's afterwards."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_bound_ids_and_the_exception_with_secrets_masked(root_kept: None) -> None:
    stream = io.StringIO()
    logs.configure("INFO", "json", stream)
    redaction.install(Settings(telegram_token=TOKEN))
    log = logging.getLogger("omnibot.test")
    with logs.bound(user_id="0190-user", order_id="0190-order"):
        try:
            raise RuntimeError(f"Telegram refused bot{TOKEN}")
        except RuntimeError:
            log.exception("sending to %s failed", "the chat")
    log.info("afterwards")
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["level"] == "error" and first["logger"] == "omnibot.test"
    assert first["message"] == "sending to the chat failed"
    assert first["user_id"] == "0190-user" and first["order_id"] == "0190-order"
    assert "RuntimeError" in first["exception"] and TOKEN not in first["exception"]
    assert "user_id" not in second  # the block ended, and its ids with it
    assert first["at"].endswith("+00:00")


async def test_ids_bound_in_one_task_stay_in_that_task(root_kept: None) -> None:
    stream = io.StringIO()
    logs.configure("INFO", "text", stream)
    log = logging.getLogger("omnibot.test")

    async def update(user: str) -> None:
        logs.bind(user_id=user)  # as the gate does for each update
        await asyncio.sleep(0)
        log.info("handled")

    await asyncio.gather(asyncio.create_task(update("u1")), asyncio.create_task(update("u2")))
    lines = sorted(stream.getvalue().splitlines())
    assert [line.rpartition("handled")[2] for line in lines] == [" [user_id=u1]", " [user_id=u2]"]
