"""Payments on both databases: bank accounts (sealed, masked, the holder checked, a cooldown), deposits through the
sandbox provider (once per provider transaction, unmatched money in suspense, a hold before they are
withdrawable), every withdrawal state with its ledger effect, limits, racing withdrawals, signed webhooks, the
manual provider's files, and funding the broker."""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from uuid import UUID

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlalchemy import text

from core import pending_actions, user_service
from core.clock import ManualClock
from core.config import Settings
from core.crypto import FieldCipher
from core.db import Database, UnitOfWork
from core.errors import ActionUnavailable, InvalidTransition, PaymentRefused
from core.pending_actions import Spend
from core.users import PersonalData, UserStatus
from ledger import operations
from ledger.accounts import AccountKind, Asset
from ledger.service import get_hold
from payments import funding
from payments.bank_details import iban_details, us_details
from payments.desk import PaymentDesk
from payments.providers.base import Payout, ProviderEvent
from payments.providers.manual import ManualProvider, ach_csv, credit_transfer_file
from payments.providers.sandbox import SandboxProvider
from payments.providers.webhook import SIGNATURE, TIMESTAMP, sign, webhook_routes
from payments.states import WithdrawalStatus
from payments.withdrawals import history
from tests.support import assert_books_whole, balance, new_investor

USD = Asset.cash()
IBAN = "DE89370400440532013000"
SETTINGS = Settings(
    payments_sandbox_settle_seconds=30,
    payments_sandbox_deposit_seconds=5,
    payments_auto_approve_below=Decimal(1000),
    payments_withdrawal_daily_limit=Decimal(5000),
    payments_deposit_hold_days=5,
)


@dataclass
class Bank:
    db: Database
    clock: ManualClock
    desk: PaymentDesk

    async def investor(self, name: str = "Jane Doe") -> UUID:
        owner = await new_investor(self.db)
        await self.db.transact(
            lambda uow: user_service.save_personal_data(uow, self.desk._cipher, owner, PersonalData(full_name=name))
        )
        for status in (UserStatus.PENDING_KYC, UserStatus.ACTIVE):
            await self.db.transact(lambda uow, s=status: user_service.change_status(uow, owner, s))
        return owner

    async def deposited(self, owner: UUID, amount: str) -> None:
        """Deposit through the sandbox bank, and wait out the deposit hold."""
        await self.desk.deposit(owner, Decimal(amount))
        self.clock.advance(timedelta(seconds=6))
        assert await self.desk.poll() >= 1
        self.clock.advance(timedelta(days=8))  # five business days and more

    async def with_bank(self, owner: UUID) -> UUID:
        account = await self.desk.add_bank(owner, iban_details(IBAN), "Jane Doe")
        self.clock.advance(timedelta(hours=25))  # past the cooldown
        return account.id

    async def cash(self, owner: UUID | None = None, kind: AccountKind = AccountKind.INVESTOR_CASH) -> Decimal:
        return await balance(self.db, kind, USD, owner)

    async def settle(self) -> None:
        """The sandbox bank's delay passes, and the desk sends and hears what is due."""
        await self.desk.submit_approved()
        self.clock.advance(timedelta(seconds=31))
        await self.desk.poll()


@pytest.fixture
def bank(db: Database, clock: ManualClock, cipher: FieldCipher) -> Bank:
    return Bank(db, clock, PaymentDesk(db, SETTINGS, cipher, SandboxProvider(SETTINGS)))


async def test_a_bank_account_is_sealed_masked_in_the_verified_name_and_usable_after_a_cooldown(bank: Bank) -> None:
    owner = await bank.investor("Zoë Doe")
    await bank.deposited(owner, "500")
    with pytest.raises(PaymentRefused, match="name on your profile"):
        await bank.desk.add_bank(owner, iban_details(IBAN), "John Smith")
    added = await bank.desk.add_bank(owner, iban_details(IBAN), "ZOE DOE")
    assert added.masked == "IBAN ...3000"
    with pytest.raises(PaymentRefused, match="already"):
        await bank.desk.add_bank(owner, iban_details(IBAN), "Zoe Doe")
    us = await bank.desk.add_bank(owner, us_details("021000021", "000987654321"), "Zoe Doe")
    rows = await bank.db.transact(lambda uow: _raw(uow, "SELECT * FROM bank_accounts"), readonly=True)
    stored = repr(rows)
    assert IBAN not in stored and "987654321" not in stored and "Doe" not in stored  # sealed, not in plain text
    with pytest.raises(PaymentRefused, match="can receive withdrawals from"):
        await bank.desk.withdraw(owner, added.id, Decimal(100), "w1")
    assert [a.id for a in await bank.desk.banks(owner)] == [added.id, us.id]
    await bank.desk.remove_bank(owner, us.id)
    assert [a.id for a in await bank.desk.banks(owner)] == [added.id]


async def test_deposits_are_credited_once_unmatched_money_waits_in_suspense_and_a_hold_delays_withdrawing(
    bank: Bank,
) -> None:
    owner = await bank.investor()
    instructions = await bank.desk.deposit(owner, Decimal(250))
    assert instructions.reference.startswith("OM") and instructions.iban
    event = ProviderEvent("evt-1", "transfer.received", tx_id="tx-1", amount=Decimal(250),
                          reference=f"thanks {instructions.reference}")  # fmt: skip
    assert await bank.desk.apply("sandbox", event) is True
    assert await bank.desk.apply("sandbox", event) is False  # the same event again: nothing more
    again = replace(event, event_id="evt-1b")  # the same transfer told in another event
    assert await bank.desk.apply("sandbox", again) is True
    assert await bank.cash(owner) == Decimal(250)
    assert await bank.desk.withdrawable(owner) == 0  # tradeable at once, withdrawable after the hold
    bank.clock.advance(timedelta(days=8))
    assert await bank.desk.withdrawable(owner) == Decimal(250)

    stray = ProviderEvent("evt-2", "transfer.received", tx_id="tx-2", amount=Decimal(80), reference="for my account")
    await bank.desk.apply("sandbox", stray)
    assert await bank.cash(None, AccountKind.SUSPENSE) == Decimal(80)
    transfer_id = (
        await bank.db.transact(lambda uow: _raw(uow, "SELECT id FROM incoming_transfers WHERE status = 'suspense'"))
    )[0][0]
    await bank.desk.match_suspense(UUID(str(transfer_id)), owner)
    assert (await bank.cash(owner), await bank.cash(None, AccountKind.SUSPENSE)) == (Decimal(330), Decimal(0))
    recorded = await bank.desk.record_deposit(owner, Decimal(20), "statement line 7")
    assert recorded == await bank.desk.record_deposit(owner, Decimal(20), "statement line 7")  # once
    assert await bank.cash(owner) == Decimal(350)
    assert await bank.cash(None, AccountKind.BANK) == Decimal(350)
    await assert_books_whole(bank.db)


async def test_a_small_withdrawal_is_approved_sent_and_settled_and_a_return_books_it_back(bank: Bank) -> None:
    owner = await bank.investor()
    await bank.deposited(owner, "800")
    account = await bank.with_bank(owner)
    withdrawal = await bank.desk.withdraw(owner, account, Decimal(300), "w1")
    assert withdrawal.status is WithdrawalStatus.APPROVED  # under the auto-approval threshold
    assert await bank.desk.withdraw(owner, account, Decimal(300), "w1") == withdrawal  # the same request again
    hold = await bank.db.transact(lambda uow: get_hold(uow, withdrawal.hold_id))
    assert hold.amount == Decimal(300) and await bank.desk.withdrawable(owner) == Decimal(500)
    await bank.settle()
    assert await bank.cash(owner) == Decimal(500) and await bank.cash(None, AccountKind.BANK) == Decimal(500)
    steps = await bank.db.transact(lambda uow: history(uow, withdrawal.id), readonly=True)
    assert [to for _old, to, _why in steps] == ["requested", "approved", "submitted", "settled"]

    returned = await bank.desk.mark(withdrawal.id, WithdrawalStatus.RETURNED, "account closed")
    assert returned.status is WithdrawalStatus.RETURNED and await bank.cash(owner) == Decimal(800)
    await assert_books_whole(bank.db)


async def test_reviews_cancellations_and_failures_give_the_money_back(bank: Bank, db: Database) -> None:
    owner = await bank.investor()
    await bank.deposited(owner, "5000")
    account = await bank.with_bank(owner)
    large = await bank.desk.withdraw(owner, account, Decimal(2000), "big")
    assert large.status is WithdrawalStatus.PENDING_REVIEW
    rejected = await bank.desk.review(large.id, approve=False, admin="admin 1", reason="unusual")
    assert rejected.status is WithdrawalStatus.REJECTED and "unusual" in rejected.reason
    assert await bank.desk.withdrawable(owner) == Decimal(5000)

    mine = await bank.desk.withdraw(owner, account, Decimal(100), "small")
    assert (await bank.desk.cancel(owner, mine.id)).status is WithdrawalStatus.CANCELLED
    with pytest.raises(InvalidTransition):
        await bank.desk.review(mine.id, approve=True, admin="admin 1")

    failing = PaymentDesk(db, SETTINGS, bank.desk._cipher, SandboxProvider(replace_rate(SETTINGS, 1.0)))
    doomed = await failing.withdraw(owner, account, Decimal(150), "doomed")
    await failing.submit_approved()
    bank.clock.advance(timedelta(seconds=31))
    await failing.poll()
    steps = await db.transact(lambda uow: history(uow, doomed.id), readonly=True)
    assert steps[-1][1] == "failed"
    assert await bank.desk.withdrawable(owner) == Decimal(5000)  # everything given back
    await assert_books_whole(db)


async def test_limits_and_refusals(bank: Bank) -> None:
    owner = await bank.investor()
    await bank.deposited(owner, "9000")
    account = await bank.with_bank(owner)
    with pytest.raises(PaymentRefused, match="smallest"):
        await bank.desk.withdraw(owner, account, Decimal(5), "tiny")
    with pytest.raises(PaymentRefused, match="up to 9000"):
        await bank.desk.withdraw(owner, account, Decimal(9500), "too much")
    await bank.desk.withdraw(owner, account, Decimal(4000), "a")
    with pytest.raises(PaymentRefused, match="daily limit: 1000"):
        await bank.desk.withdraw(owner, account, Decimal(1500), "b")
    await bank.db.transact(lambda uow: user_service.change_status(uow, owner, UserStatus.FROZEN))
    with pytest.raises(PaymentRefused, match="not active"):
        await bank.desk.withdraw(owner, account, Decimal(100), "c")


async def test_racing_withdrawals_never_take_more_than_is_withdrawable(bank: Bank) -> None:
    owner = await bank.investor()
    await bank.deposited(owner, "1000")
    account = await bank.with_bank(owner)
    results = await asyncio.gather(
        *(bank.desk.withdraw(owner, account, Decimal(300), f"race-{n}") for n in range(8)), return_exceptions=True
    )
    placed = [r for r in results if not isinstance(r, BaseException)]
    assert len(placed) == 3  # 3 x 300 fits in 1,000; a fourth would not
    assert all(isinstance(r, PaymentRefused) for r in results if isinstance(r, BaseException))
    assert await bank.desk.withdrawable(owner) == Decimal(100)


async def test_the_webhook_takes_signed_fresh_events_once(bank: Bank) -> None:
    owner = await bank.investor()
    reference = (await bank.desk.deposit(owner, Decimal(100))).reference
    secret = b"shared-secret"
    app = web.Application()
    app.add_routes(webhook_routes({"acme": secret}, bank.desk.apply, bank.clock))
    async with TestClient(TestServer(app)) as client:
        body = json.dumps({"id": "e1", "type": "transfer.received", "tx_id": "t1", "amount": "100",
                           "reference": reference}).encode()  # fmt: skip
        now = int(bank.clock.now().timestamp())

        async def post(payload: bytes, stamp: int, key: bytes = secret, signed: bytes | None = None) -> int:
            headers = {TIMESTAMP: str(stamp), SIGNATURE: sign(key, stamp, signed or payload)}
            response = await client.post("/payments/acme/events", data=payload, headers=headers)
            return response.status

        assert await post(body, now, signed=body.replace(b"100", b"900")) == 401  # the body was changed
        assert await post(body, now - 301) == 401  # too old
        assert await post(body, now, key=b"wrong") == 401
        assert await post(b'{"id": "e9", "type": "nonsense"}', now) == 400
        assert await post(body, now) == 200
        assert await post(body, now) == 200  # a replay: applied once
    assert await bank.cash(owner) == Decimal(100)


async def test_the_manual_provider_exports_a_pain001_file_and_an_ach_csv(bank: Bank) -> None:
    """Only the manual provider's payouts: one approved for a provider that sends by itself (before the operator
    switched) may be on its way already, and paying it by hand as well would pay it twice."""
    owner = await bank.investor()
    await bank.deposited(owner, "900")
    iban = await bank.with_bank(owner)
    us = (await bank.desk.add_bank(owner, us_details("021000021", "000987654321"), "Jane Doe")).id
    bank.clock.advance(timedelta(hours=25))
    sandbox = await bank.desk.withdraw(owner, iban, Decimal(70), "sandbox")
    assert sandbox.status is WithdrawalStatus.APPROVED
    manual = PaymentDesk(bank.db, SETTINGS, bank.desk._cipher, ManualProvider())
    await manual.withdraw(owner, iban, Decimal("123.45"), "sepa")
    await manual.withdraw(owner, us, Decimal(50), "ach")
    payouts = await manual.to_export()
    assert sandbox.id not in {p.withdrawal_id for p in payouts} and len(payouts) == 2
    for outcome in (WithdrawalStatus.SUBMITTED, WithdrawalStatus.FAILED):
        with pytest.raises(PaymentRefused, match="paid through sandbox, not by hand"):
            await manual.mark(sandbox.id, outcome, "batch 8")
    sepa = [p for p in payouts if p.kind.value == "iban"]
    xml = credit_transfer_file(SETTINGS, sepa, bank.clock.now().date()).decode()
    assert "pain.001.001.03" in xml and IBAN in xml and "123.45" in xml and "Jane Doe" in xml
    csv = ach_csv([p for p in payouts if p.kind.value == "us"])
    assert "021000021,000987654321,50.00" in csv


async def test_funding_the_broker_moves_bank_cash_to_ib_on_arrival(bank: Bank) -> None:
    transfer = await bank.db.transact(lambda uow: funding.record_sent(uow, Decimal(10_000), to_ib=True, note="wire"))
    assert (await bank.db.transact(funding.in_transit)).to_ib == Decimal(10_000)
    await bank.db.transact(lambda uow: funding.mark_arrived(uow, transfer))
    await bank.db.transact(lambda uow: funding.mark_arrived(uow, transfer))  # once
    assert await bank.cash(None, AccountKind.BROKER_CASH) == Decimal(10_000)
    assert await bank.cash(None, AccountKind.BANK) == Decimal(-10_000)
    assert (await bank.db.transact(funding.in_transit)).to_ib == 0
    positions = await bank.db.transact(funding.cash_positions)
    assert (positions.at_bank, positions.at_ib) == (Decimal(-10_000), Decimal(10_000))


def replace_rate(settings: Settings, rate: float) -> Settings:
    return settings.model_copy(update={"payments_sandbox_failure_rate": rate})


async def _raw(uow: UnitOfWork, sql: str) -> list[tuple[object, ...]]:
    return [tuple(row) for row in await uow.connection.execute(text(sql))]


class LostAnswer(SandboxProvider):
    """The sandbox bank, whose first answer to a payout is lost on the way back: it took the payout, we never
    heard (our process died, the connection dropped)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.taken: list[UUID] = []

    async def submit(self, payout: Payout) -> str:
        self.taken.append(payout.withdrawal_id)
        if len(self.taken) == 1:
            raise ConnectionError("the bank's answer was lost")
        return await super().submit(payout)


async def test_a_withdrawal_on_its_way_to_the_bank_cannot_be_cancelled_and_is_sent_again_as_the_same_payout(
    bank: Bank, db: Database
) -> None:
    """The bank may have taken a payout our side never heard about: cancelling it then would give the money
    back while the bank pays it (found by the simulation's review). So it cannot be cancelled once the desk
    starts sending it, and the next round sends it again, under the same id (the provider's idempotency key)."""
    owner = await bank.investor()
    await bank.deposited(owner, "800")
    account = await bank.with_bank(owner)
    lossy = LostAnswer(SETTINGS)
    desk = PaymentDesk(db, SETTINGS, bank.desk._cipher, lossy)
    withdrawal = await desk.withdraw(owner, account, Decimal(300), "w-lost")
    with pytest.raises(ConnectionError):
        await desk.submit_approved()
    with pytest.raises(PaymentRefused, match="gone to the bank"):
        await desk.cancel(owner, withdrawal.id)
    assert await desk.submit_approved() == 1
    assert lossy.taken == [withdrawal.id, withdrawal.id]  # sent again: the same payout, by its id
    bank.clock.advance(timedelta(seconds=31))
    await desk.poll()
    steps = await db.transact(lambda uow: history(uow, withdrawal.id), readonly=True)
    assert [to for _old, to, _why in steps] == ["requested", "approved", "submitted", "settled"]
    assert await bank.cash(owner) == Decimal(500)
    await assert_books_whole(db)


class StrayEvent(SandboxProvider):
    """The sandbox bank, telling first of a payout nobody here knows (another system's, a mistake)."""

    async def due(self, uow: UnitOfWork, now: datetime) -> list[ProviderEvent]:
        stray = ProviderEvent("stray-1", "payout.settled", "sandbox-nobody-knows")
        return [stray, *await super().due(uow, now)]


async def test_a_bank_event_that_matches_nothing_does_not_stop_the_others(bank: Bank, db: Database) -> None:
    owner = await bank.investor()
    await bank.deposited(owner, "800")
    account = await bank.with_bank(owner)
    desk = PaymentDesk(db, SETTINGS, bank.desk._cipher, StrayEvent(SETTINGS))
    withdrawal = await desk.withdraw(owner, account, Decimal(300), "w-next")
    await desk.submit_approved()
    bank.clock.advance(timedelta(seconds=31))
    assert await desk.poll() == 1  # the stray one logged and left, the round carries on
    assert [p.withdrawal_id for p in await desk.payouts(WithdrawalStatus.SETTLED)] == [withdrawal.id]


async def test_a_withdrawal_and_the_code_that_confirmed_it_are_both_or_neither(bank: Bank, db: Database) -> None:
    """The chat's confirmation is spent in the withdrawal's own transaction: refused, it waits for the next code;
    spent already (another process got there), nothing is asked of the bank twice."""
    owner = await bank.investor()
    await bank.deposited(owner, "800")
    account = await bank.with_bank(owner)

    async def offer(uow: UnitOfWork) -> str:
        return (await pending_actions.offer(uow, owner, "withdraw", {}, timedelta(minutes=5))).token

    token = await db.transact(offer)
    spend = functools.partial(pending_actions.take, token=token, user_id=owner, kind="withdraw")
    with pytest.raises(PaymentRefused, match="up to"):
        await bank.desk.withdraw(owner, account, Decimal(900), f"bot/{token}", spending=spend)
    assert await db.transact(lambda uow: pending_actions.peek_latest(uow, owner, "withdraw"), readonly=True)
    record = await bank.desk.withdraw(owner, account, Decimal(300), f"bot/{token}", spending=spend)
    assert await db.transact(lambda uow: pending_actions.peek_latest(uow, owner, "withdraw"), readonly=True) is None
    assert await bank.desk.withdraw(owner, account, Decimal(300), f"bot/{token}", spending=spend) == record
    other = await db.transact(offer)
    await db.transact(lambda uow: pending_actions.take(uow, other, owner, "withdraw"))  # spent elsewhere
    spent = functools.partial(pending_actions.take, token=other, user_id=owner, kind="withdraw")
    with pytest.raises(ActionUnavailable):
        await bank.desk.withdraw(owner, account, Decimal(100), f"bot/{other}", spending=spent)
    assert await bank.desk.withdrawable(owner) == Decimal(500)


async def test_an_admin_marks_several_manual_payouts_sent_under_one_batch_name(
    db: Database, clock: ManualClock, cipher: FieldCipher
) -> None:
    """The bank's batch name goes with each payout; the reference stays the withdrawal's own (it is unique)."""
    bank = Bank(db, clock, PaymentDesk(db, SETTINGS, cipher, ManualProvider()))
    owner = await bank.investor()
    await db.transact(lambda uow: operations.deposit(uow, owner, Decimal(800), key="manual-batch"))
    account = await bank.with_bank(owner)
    for key, amount in (("m1", 100), ("m2", 200)):
        record = await bank.desk.withdraw(owner, account, Decimal(amount), key)
        sent = await bank.desk.mark(record.id, WithdrawalStatus.SUBMITTED, "batch 7")
        assert sent.status is WithdrawalStatus.SUBMITTED and sent.provider_ref == f"manual-{record.id} batch 7"


async def test_an_admins_confirmation_is_spent_with_the_review_or_not_at_all(bank: Bank, db: Database) -> None:
    """Refused in the transaction (the withdrawal was cancelled meanwhile), the admin's code stays as it was:
    the handler decides what a refusal means. Carried out, it is spent there, once."""
    owner, admin = await bank.investor(), await new_investor(db)
    await bank.deposited(owner, "5000")
    account = await bank.with_bank(owner)

    async def confirmation() -> Spend:
        action = await db.transact(
            lambda uow: pending_actions.offer(uow, admin, "admin_confirm", {}, timedelta(minutes=2))
        )
        return functools.partial(pending_actions.take, token=action.token, user_id=admin, kind="admin_confirm")

    cancelled = await bank.desk.withdraw(owner, account, Decimal(2000), "to cancel")
    await bank.desk.cancel(owner, cancelled.id)
    spend = await confirmation()
    with pytest.raises(InvalidTransition):
        await bank.desk.review(cancelled.id, approve=True, admin="admin:a", spending=spend)
    assert await db.transact(lambda uow: pending_actions.waiting(uow, admin, "admin_confirm"), readonly=True)
    large = await bank.desk.withdraw(owner, account, Decimal(1500), "to approve")
    approved = await bank.desk.review(large.id, approve=True, admin="admin:a", spending=spend)
    assert approved.status is WithdrawalStatus.APPROVED
    assert not await db.transact(lambda uow: pending_actions.waiting(uow, admin, "admin_confirm"), readonly=True)
    with pytest.raises(ActionUnavailable):  # spent: the same code cannot act twice
        await bank.desk.review(large.id, approve=False, admin="admin:a", spending=spend)
