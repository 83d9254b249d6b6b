"""What investors do in the chat itself, through the bot (tests/sim/chats.py delivers it as Telegram would): trade
and withdraw, with the authenticator's codes."""

from __future__ import annotations

from datetime import timedelta

import pyotp

from bot.emulator.world import ChatMessage

from .actions import SYMBOLS, Actions


class ChatActions(Actions):
    async def chat_trade(self) -> None:
        """/buy or /sell in the chat, the code when trading is locked, then Confirm (or Cancel) on the preview.
        A confirmed order must exist, whatever died on the way and however often Telegram delivered the tap."""
        n, owner = self._investor()
        self.world.clock.advance(timedelta(seconds=30))  # reading and typing: the authenticator shows a new code
        side, symbol, quantity = self.rng.choice(("buy", "sell")), self.rng.choice(SYMBOLS), self.rng.randint(1, 30)
        text = f"/{side} {symbol} {quantity}"
        self.again = lambda: self.chats.say(n, text)
        replies = await self._answered(n, await self.chats.say(n, text))
        if any("Trading is locked" in m.text for m in replies):

            async def unlock() -> list[ChatMessage]:
                self.world.clock.advance(timedelta(seconds=30))  # a code of its own, not one a dead process spent
                code = pyotp.TOTP(self.world.secrets[owner]).at(self.world.clock.now())
                return await self._answered(n, await self.chats.say(n, code))

            self.again = unlock
            replies = await unlock()
        preview = next((m for m in reversed(replies) if "Confirm" in {b["text"] for b in m.buttons()}), None)
        if preview is None:
            self.note(f"chat {text} by {n}: {replies[-1].text.splitlines()[0] if replies else 'no answer'}")
            return
        label = "Confirm" if self.rng.random() < 0.85 else "Cancel"
        token = next(b["callback_data"] for b in preview.buttons() if b["text"] == label).split(":", 1)[1]

        async def tap() -> None:
            answer = await self.chats.press(n, preview, label)
            if answer is None:  # tapped before the process died: the preview shows what came of it, no buttons
                self.note(f"nothing to tap again: {preview.text.splitlines()[-1]}")
            elif not answer.get("answered"):
                self.outcome.violations.append(f"investor {n}'s tap on {label} was never answered")
            if label == "Confirm":
                self.world.confirmed_orders.append((owner, f"bot/{token}"))

        self.again = tap
        await tap()
        self.note(f"chat {text} by {n}: {label}")

    async def chat_withdraw(self) -> None:
        """/withdraw in the chat, the bank account by button, then the code. Now and then the investor turns to
        an order while trading is locked before sending it: the code then unlocks trading, and the withdrawal it
        replaced must never be made. A withdrawal the chat said was made must exist, once."""
        n, owner = self._investor()
        self.world.clock.advance(timedelta(seconds=30))  # reading and typing
        amount = self.rng.choice((50, 200, 900, 2_500))
        text = f"/withdraw {amount}"
        self.again = lambda: self.chats.say(n, text)
        replies = await self._answered(n, await self.chats.say(n, text))
        asking = next((m for m in reversed(replies) if m.buttons()), None)
        if asking is None:
            self.note(f"chat {text} by {n}: {replies[-1].text.splitlines()[0] if replies else 'no answer'}")
            return
        account = asking.buttons()[0]
        key = f"bot/{account['callback_data'].split(':')[1]}"

        async def pick() -> None:
            answer = await self.chats.press(n, asking, account["text"])
            if answer is not None and not answer.get("answered"):
                self.outcome.violations.append(f"investor {n}'s pick of a bank account was never answered")

        self.again = pick
        await pick()
        if self.rng.random() < 0.25:  # an order first, which asks for the code to unlock trading
            await self.chats.say(n, "/lock")
            order = f"/buy {self.rng.choice(SYMBOLS)} 1"
            self.again = lambda: self.chats.say(n, order)
            told = await self._answered(n, await self.chats.say(n, order))
            if any(m.text.startswith("(This replaces") and "the withdrawal" in m.text.split(")")[0] for m in told):
                self.world.chat_withdrawals[key] = "dropped"

        async def code() -> None:
            self.world.clock.advance(timedelta(seconds=30))  # a code of its own, not one a dead process spent
            sent = pyotp.TOTP(self.world.secrets[owner]).at(self.world.clock.now())
            answers = await self._answered(n, await self.chats.say(n, sent))
            if any(m.text.startswith(f"Withdrawal of ${amount:,}.00") for m in answers):
                if self.world.chat_withdrawals.get(key) == "dropped":
                    self.outcome.violations.append(f"investor {n}'s code made the withdrawal {key} they replaced")
                self.world.chat_withdrawals[key] = "made"

        self.again = code
        await code()
        self.note(f"chat {text} by {n}: {self.world.chat_withdrawals.get(key, 'not made')}")

    async def _answered(self, n: int, replies: list[ChatMessage]) -> list[ChatMessage]:
        if not replies:
            self.outcome.violations.append(f"investor {n}'s message went unanswered")
        return replies
