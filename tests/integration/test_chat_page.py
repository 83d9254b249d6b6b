"""The emulator's web chat page in a real browser (Debian's headless Chromium, driven by Playwright): a person
sends /start, taps the button the bot offers, and reads the bot's replies."""

from __future__ import annotations

import os
import shutil

import pytest
from playwright.async_api import async_playwright, expect

from tests.botchat import BotDesk

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def chromium() -> str:
    if not os.path.exists(CHROMIUM):
        message = "Chromium is not installed (apt-get install chromium chromium-driver; .ci/run does it)"
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


@pytest.mark.parametrize("db", ["sqlite"], indirect=True)  # the page is the point here, not the database
async def test_a_person_starts_taps_a_button_and_sees_the_replies(bot_desk: BotDesk, chromium: str) -> None:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True, args=FLAGS)
        try:
            page = await browser.new_page()
            await page.goto(bot_desk.emulator.url + "/")
            await page.fill("#user", "4242")
            await page.dispatch_event("#user", "change")
            await page.fill("#text", "/start")
            await page.press("#text", "Enter")
            await expect(page.locator(".msg").filter(has_text="Welcome to Omnibot")).to_be_visible(timeout=10_000)
            await page.get_by_role("button", name="I accept").click()
            await expect(page.locator(".msg").filter(has_text="full name")).to_be_visible(timeout=10_000)
            assert await page.locator(".msg.mine").first.inner_text() == "/start"
        finally:
            await browser.close()
