"""What goes wrong: IB's gateway and its messages, our process dying (between steps, between an order's commit
and its send, or at any commit), the bank, Telegram. One method per kind of fault, each a step of a run."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from .actions import ACTIONS
from .chat_actions import ChatActions
from .world import FIRST_TELEGRAM_ID

FAULTS = {
    "disconnect": 3,
    "gateway_restart": 2,
    "duplicate_execution": 3,
    "corrected_execution": 2,
    "commission_withheld": 3,
    "commission_first": 2,
    "partial_fills": 3,
    "crash": 2,
    "crash_mid_order": 2,
    "crash_at_commit": 6,
    "payout_returned": 1,
    "telegram_flood": 2,
    "telegram_down": 2,
}


class Faults(ChatActions):
    # ---- faults

    async def disconnect(self) -> None:
        sessions = self.world.sim.sessions_opened
        self.world.sim.drop_clients()
        await self.world.hung_up(sessions)
        self.note("gateway hangs up")

    async def gateway_restart(self) -> None:
        sessions = self.world.sim.sessions_opened
        await self.world.sim.restart(down_for=0.05)
        await self.world.hung_up(sessions)
        self.note("gateway restarts")

    async def duplicate_execution(self) -> None:
        if self.world.sim.desk.executions:
            execution = self.rng.choice(self.world.sim.desk.executions)
            self.world.sim.resend_execution(execution.exec_id)
            self.note(f"execution {execution.exec_id} sent again")

    async def corrected_execution(self) -> None:
        if self.world.sim.desk.executions:
            execution = self.rng.choice(self.world.sim.desk.executions)
            price = execution.price + Decimal("0.01") * self.rng.choice((-2, -1, 1, 2))
            self.world.sim.correct_execution(execution.exec_id, price)
            self.note(f"execution {execution.exec_id} corrected to {price}")

    async def commission_withheld(self) -> None:
        self.world.sim.plan_next_order(commission="withheld")
        await self.buy()

    async def commission_first(self) -> None:
        """IB's messages out of order: the commission report before the execution it reports on."""
        self.world.sim.plan_next_order(commission="before")
        await self.buy()

    async def partial_fills(self) -> None:
        slices = [Decimal(self.rng.randint(1, 5)) for _ in range(self.rng.randint(2, 3))]
        self.world.sim.plan_next_order(slices=slices)
        await self.buy()

    async def crash_mid_order(self) -> None:
        """The process dies right after an order's transaction committed its block as routed, before IB heard
        of it: the next process sends it, once."""
        send = self.world.trading._send_block

        async def dies(_block: object) -> None:
            return None  # the process is gone before it sends

        self.world.trading._send_block = dies
        try:
            await self.buy()
        finally:
            self.world.trading._send_block = send
        await self.world.crash()
        self.note("our process died between an order's commit and its send")

    async def payout_returned(self) -> None:
        """The bank sends back a payout it had paid (a closed account, days later), and says so when asked."""
        recent = self.world.clock.now() - timedelta(days=30)  # within the return window
        paid = [payout for payout in self.world.bank.paid() if payout.sent_at > recent]
        if paid:
            payout = self.rng.choice(paid)
            self.world.bank.send_back(payout.withdrawal_id)
            await self.world.payments.poll()
            self.note(f"payout {payout.withdrawal_id} returned")

    async def crash_at_commit(self) -> None:
        """Our process dies at one of the next few commits, just before or just after it: in the middle of an
        action (an order, a withdrawal, a bank or copy round) or of what follows from it (a fill's booking)."""
        commit, when = self.rng.randint(1, 8), self.rng.choice(("before", "after"))
        self.world.process.die_at(commit, when)
        kind = self.rng.choices(list(ACTIONS), weights=list(ACTIONS.values()))[0]
        self.outcome.actions[kind] += 1
        self.note(f"dies at commit {commit}, {when}; then {kind}")
        await getattr(self, kind)()

    async def crash(self) -> None:
        await self.world.crash()
        self.note("our process crashed and started again")

    async def telegram_flood(self) -> None:
        """The investors' chats had too much just now (a broadcast, say): the next message to each gets a 429."""
        for n in range(len(self.world.investors)):
            self.world.telegram.world.flood(FIRST_TELEGRAM_ID + n)
        await self.notify()

    async def telegram_down(self) -> None:
        """Telegram answers 502 for a round of the notifier."""
        self.world.telegram.world.down = True
        try:
            await self.notify()
        finally:
            self.world.telegram.world.down = False
