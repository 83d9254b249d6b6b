"""The bot through the real python-telegram-bot over HTTP against the emulator: the gate, onboarding with its
refusals, /profile, two-factor enrolment by QR code, unlocking with codes (wrong, replayed, locked out)."""

from __future__ import annotations

from datetime import timedelta

import pyotp

from tests.botchat import BotDesk, enrol, onboard

ALICE = 5001


async def test_a_stranger_is_asked_to_start_and_may_read_help(bot_desk: BotDesk) -> None:
    chat = bot_desk.chat(ALICE)
    assert "send /start" in (await chat.send("hello"))[0]["text"]
    assert "send /start" in (await chat.send("/profile"))[0]["text"]
    help_text = (await chat.send("/help"))[0]["text"]
    assert "/start" in help_text and "/profile" not in help_text
    commands = (await bot_desk.http.get("/test/stats")).json()["commands"]
    assert {"command": "2fa", "description": "Set up two-factor authentication"} in commands


async def test_onboarding_takes_one_answer_at_a_time_and_refuses_bad_ones_politely(bot_desk: BotDesk) -> None:
    chat = bot_desk.chat(ALICE)
    terms = await chat.send("/start")
    assert "I accept" in [label for label, _data in terms[0]["buttons"]]
    assert "full name" in (await chat.press(terms[0], "I accept"))[0]["text"]
    assert "email" in (await chat.send("Alice Smith"))[0]["text"]
    assert "not valid" in (await chat.send("not-an-email"))[0]["text"]
    assert "country" in (await chat.send("alice@example.com"))[0]["text"]
    assert "two-letter" in (await chat.send("United States"))[0]["text"]
    experience = await chat.send("us")
    assert experience[0]["buttons"]  # the questionnaire: answered by buttons
    assert "choose one of the answers" in (await chat.send("lots"))[0]["text"]
    query = await chat.press_data(experience[0]["message_id"], "ob:loss:more", forge=True)  # not this question
    assert (await chat.answer_to(query))["answered"]
    horizon = await chat.press(experience[0], "Extensive")
    loss = await chat.press(horizon[-1], "Over 5 years")
    done = await chat.press(loss[-1], "More than 20 %")
    assert "account is open" in done[-1]["text"]  # the demo approves at once
    again = await chat.send("/start")
    assert "account is open" in again[0]["text"]  # nothing asked twice
    profile = (await chat.send("/profile"))[0]["text"]
    assert "Alice Smith" in profile and "alice@example.com" in profile and "US" in profile and "active" in profile


async def test_two_factor_enrols_by_qr_code_and_codes_unlock_trading_once_each(bot_desk: BotDesk) -> None:
    chat = bot_desk.chat(ALICE)
    await onboard(chat)
    secret = await enrol(bot_desk, chat)
    assert "already on" in (await chat.send("/2fa"))[0]["text"]  # moving it needs a current code

    bot_desk.clock.advance(timedelta(seconds=30))
    code = pyotp.TOTP(secret).at(bot_desk.clock.now())
    assert "unlocked for 15 minutes" in (await chat.send(f"/unlock {code}"))[0]["text"]
    assert "already used" in (await chat.send(code))[0]["text"]  # a code works once
    assert "locked" in (await chat.send("/lock"))[0]["text"]


async def test_wrong_codes_lock_two_factor_for_a_while(bot_desk: BotDesk) -> None:
    chat = bot_desk.chat(ALICE)
    await onboard(chat)
    secret = await enrol(bot_desk, chat)
    for left in (4, 3, 2, 1):
        assert f"{left} attempts left" in (await chat.send("000000"))[0]["text"]
    assert "locked until" in (await chat.send("000000"))[0]["text"]
    bot_desk.clock.advance(timedelta(seconds=30))
    right = pyotp.TOTP(secret).at(bot_desk.clock.now())
    assert "locked until" in (await chat.send(right))[0]["text"]  # even a right code waits out the lock
    bot_desk.clock.advance(timedelta(minutes=15))
    right = pyotp.TOTP(secret).at(bot_desk.clock.now())
    assert "unlocked" in (await chat.send(right))[0]["text"]


async def test_unknown_commands_and_stale_buttons_are_answered(bot_desk: BotDesk) -> None:
    chat = bot_desk.chat(ALICE)
    await onboard(chat)
    assert "do not know that command" in (await chat.send("/frobnicate"))[0]["text"]
    latest = (await chat.messages())[-1]
    query = await chat.press_data(latest["message_id"], "zz:forged", forge=True)
    answer = await chat.answer_to(query)
    assert "no longer valid" in answer["text"] and answer["show_alert"]
