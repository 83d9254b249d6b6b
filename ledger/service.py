"""The ledger's services: open accounts, post entries, place and settle holds. Each runs inside the caller's
unit of work, so it commits (or not) with whatever else the caller does in that transaction.

Concurrency: every writer locks the accounts it touches, in id order, before reading their balances (on
SQLite the whole transaction holds the write lock already), and holds after accounts. The same round trip tells
whether an idempotency key is booked already; two deliveries of one request racing each other are settled by
the unique key, and the loser's retry finds the winner's entry (see store.lock_accounts_probing_keys).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from uuid import UUID

from core.db import UnitOfWork
from core.errors import DomainError, IdempotencyConflict, InsufficientFunds, NotFound

from . import store
from .accounts import AccountKind, AccountSpec, AccountState, Asset, account_code
from .entries import EntryRequest, Leg, PostedEntry, apply_entry
from .holds import HoldState, HoldStatus
from .money import ZERO, require_positive, require_storable


async def open_accounts(
    uow: UnitOfWork, specs: Sequence[AccountSpec | tuple[AccountKind, Asset, UUID | None]]
) -> list[AccountState]:
    """The accounts for (kind, asset, owner[, sleeve]), created empty where missing, in the order asked for."""
    wanted = [AccountSpec(*spec) for spec in specs]
    codes = [account_code(*spec) for spec in wanted]
    found = await store.accounts_by_code(uow, codes)
    missing = [
        AccountState(uow.ids.new_id(), code, spec.kind, spec.asset, spec.owner_id, ZERO, ZERO, 0, ZERO, spec.sleeve_id)
        for code, spec in zip(codes, wanted, strict=True)
        if code not in found
    ]
    if missing:
        await store.create_accounts(uow, missing)
        found.update(await store.accounts_by_code(uow, [account.code for account in missing]))
    return [found[code] for code in codes]


async def open_account(
    uow: UnitOfWork, kind: AccountKind, asset: Asset, owner_id: UUID | None = None, sleeve_id: UUID | None = None
) -> AccountState:
    return (await open_accounts(uow, [AccountSpec(kind, asset, owner_id, sleeve_id)]))[0]


async def get_account(uow: UnitOfWork, account_id: UUID, *, lock: bool = False) -> AccountState:
    found = await store.accounts_by_id(uow, [account_id], lock=lock)
    if account_id not in found:
        raise NotFound("account", account_id)
    return found[account_id]


async def get_hold(uow: UnitOfWork, hold_id: UUID, *, lock: bool = False) -> HoldState:
    found = await store.holds_by_id(uow, [hold_id], lock=lock)
    if hold_id not in found:
        raise NotFound("hold", hold_id)
    return found[hold_id]


async def post_entry(uow: UnitOfWork, request: EntryRequest) -> PostedEntry:
    return (await post_entries(uow, [request]))[0]


async def post_entries(uow: UnitOfWork, requests: Sequence[EntryRequest]) -> list[PostedEntry]:
    """Book the entries, all or none, in order; a key booked before returns that entry, marked replayed."""
    keys = [request.key for request in requests]
    if len(set(keys)) != len(keys):
        raise ValueError("a batch repeats an idempotency key")
    account_ids = {leg.account_id for request in requests for leg in request.legs}
    accounts, any_booked = await store.lock_accounts_probing_keys(uow, account_ids, keys)
    hold_ids = {hold for request in requests for hold in (*request.holds, *request.releases)}
    holds = await store.holds_by_id(uow, hold_ids, lock=True)
    booked = await store.entries_by_key(uow, keys) if any_booked else {}
    try:
        plan = _plan(uow, requests, accounts, holds, booked)
    except DomainError:
        # The probe read the keys before this transaction waited for the locks: a second delivery of the same
        # request must not be refused for what its first delivery spent. Look again, now that the locks are held.
        booked = {} if any_booked else await store.entries_by_key(uow, keys)
        if not booked:
            raise
        plan = _plan(uow, requests, accounts, holds, booked)

    await store.write_entries(uow, plan.new_entries, plan.hold_uses)  # the database moves the balances
    await store.save_held(
        uow, [state for account_id, state in plan.accounts.items() if state.held != accounts[account_id].held]
    )
    await store.save_holds(uow, plan.holds.values(), uow.clock.now())
    return plan.results


@dataclass
class _Plan:
    results: list[PostedEntry] = field(default_factory=list)
    new_entries: list[PostedEntry] = field(default_factory=list)
    hold_uses: list[tuple[UUID, UUID, Decimal]] = field(default_factory=list)
    accounts: dict[UUID, AccountState] = field(default_factory=dict)  # as the entries leave them
    holds: dict[UUID, HoldState] = field(default_factory=dict)


def _plan(
    uow: UnitOfWork,
    requests: Sequence[EntryRequest],
    accounts: dict[UUID, AccountState],
    holds: dict[UUID, HoldState],
    booked: dict[str, PostedEntry],
) -> _Plan:
    """Apply the requests one after the other to the locked accounts and holds, without touching them."""
    plan, now = _Plan(), uow.clock.now()
    current_accounts, current_holds = dict(accounts), dict(holds)
    for request in requests:
        if request.key in booked:
            plan.results.append(_replay(request, booked[request.key]))
            continue
        applied = apply_entry(request, current_accounts, current_holds)
        entry = PostedEntry(uow.ids.new_id(), request.key, request.kind, request.memo, now, applied.legs)
        current_accounts.update(applied.accounts)
        current_holds.update(applied.holds)
        plan.accounts.update(applied.accounts)
        plan.holds.update(applied.holds)
        plan.hold_uses.extend((hold_id, entry.id, amount) for hold_id, amount in applied.consumed)
        plan.new_entries.append(entry)
        plan.results.append(entry)
    return plan


def _replay(request: EntryRequest, booked: PostedEntry) -> PostedEntry:
    if not request.same_effect_as(booked.kind, tuple(Leg(leg.account_id, leg.amount) for leg in booked.legs)):
        raise IdempotencyConflict(request.key)
    return booked


async def place_hold(uow: UnitOfWork, account_id: UUID, amount: Decimal, *, key: str, reason: str) -> HoldState:
    """Set `amount` aside on the account; the same key returns the hold placed before."""
    require_storable(require_positive(amount))
    account = await get_account(uow, account_id, lock=True)
    existing = await store.hold_by_key(uow, key)
    if existing is not None:
        if (existing.account_id, existing.amount) != (account_id, amount):
            raise IdempotencyConflict(key)
        return existing
    if not account.policy.may_go_negative and account.spendable < amount:
        raise InsufficientFunds(account.id, str(account.asset), amount, account.spendable)
    hold = HoldState(uow.ids.new_id(), account_id, amount, ZERO, ZERO, HoldStatus.PENDING, key, reason[:200])
    now = uow.clock.now()
    await store.insert_hold(uow, hold, now)
    await store.save_held(uow, [_with_held(account, account.held + amount)])
    return hold


@dataclass(frozen=True)
class HoldRequest:
    account_id: UUID
    amount: Decimal
    key: str
    reason: str


async def place_holds(uow: UnitOfWork, requests: Sequence[HoldRequest]) -> list[HoldState | None]:
    """Set many amounts aside in a few statements whatever their number (a block of copied orders), each as
    `place_hold` would: one that its account cannot cover gets None and takes nothing, the others go ahead."""
    for request in requests:
        require_storable(require_positive(request.amount))
    accounts = await store.accounts_by_id(uow, {r.account_id for r in requests}, lock=True)
    existing = await store.holds_by_key(uow, [r.key for r in requests])
    now, placed = uow.clock.now(), []
    results: list[HoldState | None] = []
    for request in requests:
        hold = existing.get(request.key)
        if hold is not None:
            if (hold.account_id, hold.amount) != (request.account_id, request.amount):
                raise IdempotencyConflict(request.key)
            results.append(hold)
            continue
        account = accounts[request.account_id]
        if not account.policy.may_go_negative and account.spendable < request.amount:
            results.append(None)
            continue
        accounts[account.id] = _with_held(account, account.held + request.amount)
        hold = HoldState(
            uow.ids.new_id(), account.id, request.amount, ZERO, ZERO, HoldStatus.PENDING, request.key, request.reason
        )
        placed.append(hold)
        results.append(hold)
    await store.insert_holds(uow, placed, now)
    await store.save_held(uow, [accounts[account_id] for account_id in {hold.account_id for hold in placed}])
    return results


async def release_hold(uow: UnitOfWork, hold_id: UUID) -> HoldState:
    """Give back what the hold has left. Releasing a hold already released changes nothing."""
    return await _settle_hold(uow, hold_id, HoldStatus.RELEASED)


async def void_hold(uow: UnitOfWork, hold_id: UUID) -> HoldState:
    """Cancel a hold of which nothing was posted. Voiding a voided hold changes nothing."""
    return await _settle_hold(uow, hold_id, HoldStatus.VOIDED)


async def _settle_hold(uow: UnitOfWork, hold_id: UUID, outcome: HoldStatus) -> HoldState:
    account_id = (await get_hold(uow, hold_id)).account_id
    account = await get_account(uow, account_id, lock=True)  # accounts before holds: the one lock order
    hold = await get_hold(uow, hold_id, lock=True)
    if hold.status is outcome:
        return hold
    settled = hold.release() if outcome is HoldStatus.RELEASED else hold.void()
    now = uow.clock.now()
    await store.save_holds(uow, [settled], now)
    await store.save_held(uow, [_with_held(account, account.held - hold.remaining)])
    return settled


async def release_holds(uow: UnitOfWork, hold_ids: Sequence[UUID]) -> None:
    """Give back what each of the holds has left, in a few statements whatever their number (a block's
    orders end together). Holds no longer pending are left as they are."""
    if not hold_ids:
        return
    found = await store.holds_by_id(uow, hold_ids, lock=False)
    accounts = await store.accounts_by_id(uow, {hold.account_id for hold in found.values()}, lock=True)
    holds = await store.holds_by_id(uow, hold_ids, lock=True)  # accounts before holds: the one lock order
    pending = [hold for hold in holds.values() if hold.status is HoldStatus.PENDING]
    held = {account_id: account.held for account_id, account in accounts.items()}
    for hold in pending:
        held[hold.account_id] -= hold.remaining
    await store.save_holds(uow, [hold.release() for hold in pending], uow.clock.now())
    await store.save_held(
        uow,
        [
            _with_held(accounts[account_id], amount)
            for account_id, amount in held.items()
            if amount != accounts[account_id].held
        ],
    )


def _with_held(account: AccountState, held: Decimal) -> AccountState:
    return replace(account, held=held, version=account.version + 1)
