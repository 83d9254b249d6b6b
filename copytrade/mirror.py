"""Mirroring a leader's fills into their copiers' orders.

A leader's execution becomes a signal in the transaction that books it (`record_signals`), so none is lost.
The desk then mirrors each signal once (`mirror_signal`), in one transaction that marks it processed: every
active copy's order worked out by `sizing`, all of them placed as one block (a handful of IB messages
whatever the number of copiers), and a note for every follower whose copy skipped the trade. Alert-only
followers get a trade alert; paused copies skip the trade and say so; a leader no longer active is not
mirrored, and their followers are told.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

from broker.block_orders import BlockOrder, PlacedBlock, place_market_block
from broker.fills import BookedFill
from broker.order_states import OrderSide
from broker.pricing import buy_hold
from core import audit, user_service
from core.config import Settings
from core.db import UnitOfWork
from core.errors import TradingHalted
from core.outbox import Message, publish
from core.users import UserStatus
from ledger.accounts import Holder
from ledger.instruments import symbols_of
from ledger.portfolio import book
from ledger.sleeves import SleeveBook, sleeve_books

from . import store
from .sizing import CopySide, Decision, LeaderFill, mirror_buy, mirror_sell
from .store import CopyRecord, SignalRecord
from .terms import CopyMode, CopyStatus


async def record_signals(uow: UnitOfWork, booked: BookedFill) -> int:
    """A signal for each order of a leader with followers that this execution filled (their own trades only,
    not their copies'); how many."""
    own = [(order, shares) for order, shares in booked.orders if order.sleeve_id is None and shares]
    if not own:
        return 0
    leaders = await store.leaders_among(uow, {order.owner_id for order, _shares in own})
    now, signals = uow.clock.now(), []
    for order, shares in own:
        after = booked.positions.get(Holder(order.owner_id))
        if order.owner_id not in leaders or after is None:
            continue
        before = after - shares if order.side is OrderSide.BUY else after + shares
        signals.append(
            _signal(f"{booked.fill.exec_id}/{order.id}", order.owner_id, order.con_id, order.side, booked.fill.price)
            | {
                "leader_order_id": order.id,
                "position_before": before,
                "position_after": after,
                "order_quantity": order.quantity,
                "order_filled": order.filled_quantity,
                "created_at": now,
            }
        )
    await store.insert_signals(uow, signals)
    return len(signals)


async def opening_signals(uow: UnitOfWork, copy: CopyRecord) -> None:
    """For a new copy that buys into the leader's positions: one signal per position, for this copy only (its
    price is the leader's average cost; the desk prices it at the market when it can)."""
    leader_book = await book(uow, copy.leader_id, uow.clock.now().date())
    signals = [
        _signal(f"open/{copy.id}/{h.con_id}", copy.leader_id, h.con_id, OrderSide.BUY, h.cost_basis / h.quantity)
        | {
            "copy_id": copy.id,
            "position_before": Decimal(0),
            "position_after": h.quantity,
            "order_quantity": h.quantity,
            "order_filled": h.quantity,
            "created_at": uow.clock.now(),
        }
        for h in leader_book.holdings
        if h.quantity > 0 and h.cost_basis > 0
    ]
    await store.insert_signals(uow, signals)


async def instruments_to_price(uow: UnitOfWork, signal: SignalRecord) -> set[int]:
    """What must be priced to mirror the signal: the leader's instruments and their copies'."""
    leader_book = await book(uow, signal.leader_id, uow.clock.now().date())
    copies = await _copies(uow, signal)
    sleeves = await sleeve_books(uow, [c.id for c in copies if c.mode is CopyMode.COPY])
    held = {con_id for sleeve in sleeves.values() for con_id in sleeve.shares}
    return {signal.con_id} | {h.con_id for h in leader_book.holdings} | held


@dataclass(frozen=True)
class Mirrored:
    placed: PlacedBlock | None
    notes: int


async def mirror_signal(
    uow: UnitOfWork, settings: Settings, signal_id: int, prices: Mapping[int, Decimal]
) -> Mirrored | None:
    """Mirror the signal into its copies' orders, once (None: processed already, or claimed by another desk)."""
    signal = await store.signal_by_id(uow, signal_id, lock=True)
    if signal is None or signal.processed_at is not None:
        return None
    await store.mark_processed(uow, signal.id)
    copies = await _copies(uow, signal)
    symbol = (await symbols_of(uow, [signal.con_id])).get(signal.con_id, f"#{signal.con_id}")
    leader = await store.leader_by_user(uow, signal.leader_id)
    alias = leader.alias if leader else ""
    notes = _Notes(signal, symbol, alias)
    if (await user_service.get_user(uow, signal.leader_id)).status is not UserStatus.ACTIVE:
        for copy in copies:
            notes.add("copy.leader_inactive", copy, reason=f"{alias}'s account is not active: not copied")
        return Mirrored(None, await notes.publish(uow))
    for copy in copies:
        if copy.mode is CopyMode.ALERTS and signal.copy_id is None:
            notes.add("copy.alert", copy)
        elif copy.status is CopyStatus.PAUSED:
            notes.add("copy.skipped", copy, reason="your copy is paused")
    active = [c for c in copies if c.mode is CopyMode.COPY and c.status is CopyStatus.ACTIVE]
    placed = await _place(uow, settings, signal, symbol, active, prices, notes) if active else None
    return Mirrored(placed, await notes.publish(uow))


async def _place(
    uow: UnitOfWork,
    settings: Settings,
    signal: SignalRecord,
    symbol: str,
    copies: list[CopyRecord],
    prices: Mapping[int, Decimal],
    notes: _Notes,
) -> PlacedBlock | None:
    price = prices.get(signal.con_id, signal.price) if signal.leader_order_id is None else signal.price
    active_followers = await user_service.active_among(uow, {c.follower_id for c in copies})
    sleeves = await sleeve_books(uow, [c.id for c in copies])
    progress = (
        await store.mirrored(uow, signal.leader_order_id, [c.id for c in copies]) if signal.leader_order_id else {}
    )
    leader_equity = await _leader_equity(uow, signal.leader_id, prices)
    fill = LeaderFill(
        price,
        signal.position_before,
        signal.position_after,
        signal.order_quantity,
        signal.order_filled,
        leader_equity,
    )
    buffer = settings.trading_market_buffer_pct
    wanted: list[tuple[CopyRecord, Decision]] = []
    for copy in copies:
        if copy.follower_id not in active_followers:
            notes.add("copy.skipped", copy, reason="your account is not active")
            continue
        sleeve = sleeves[copy.id]
        ordered, told = progress.get(copy.id, (Decimal(0), False))
        side = _side(copy, sleeve, signal.con_id, ordered, prices)
        if signal.side is OrderSide.BUY:
            decision = mirror_buy(
                side, fill, settings.copy_min_order_value, lambda q: buy_hold(q, price, market=True, buffer_pct=buffer)
            )
        else:
            decision = mirror_sell(side, fill)
        if decision.skipped and not told:
            notes.add("copy.skipped", copy, reason=decision.skipped)
            progress[copy.id] = (ordered, True)
        if decision.quantity:
            wanted.append((copy, decision))
    try:
        placed = await place_market_block(
            uow,
            settings,
            signal.con_id,
            symbol,
            signal.side,
            [BlockOrder(c.holder, d.quantity, f"copy/{signal.id}/{c.id}") for c, d in wanted],
            price,
        )
    except TradingHalted as halted:
        for copy, _decision in wanted:
            notes.add("copy.skipped", copy, reason=f"trading is halted: {halted.reason}")
        placed = None
    refused = {order.holder.sleeve_id for order in placed.refused} if placed else set()
    for copy, decision in wanted:
        if copy.id in refused:
            notes.add("copy.skipped", copy, reason="the copy has not enough cash or shares left")
        elif signal.side is OrderSide.BUY and placed is not None:
            ordered, told = progress.get(copy.id, (Decimal(0), False))
            progress[copy.id] = (ordered + decision.quantity, told)
    if signal.leader_order_id is not None:
        await store.save_mirrored(uow, signal.leader_order_id, progress)
    if placed is not None and placed.block is not None:
        block = placed.block
        await audit.record(
            uow,
            "system",
            "copy.mirrored",
            block.id,
            signal=signal.key,
            orders=len(placed.orders),
            shares=block.quantity,
        )
    return placed


def _side(
    copy: CopyRecord, sleeve: SleeveBook, con_id: int, ordered: Decimal, prices: Mapping[int, Decimal]
) -> CopySide:
    """The copy as sizing sees it."""
    return CopySide(
        copy.sizing,
        copy.sizing_value,
        copy.max_per_trade,
        sleeve.equity(prices),
        sleeve.cash - sleeve.cash_held,
        sleeve.available_shares(con_id),
        ordered,
    )


async def _leader_equity(uow: UnitOfWork, leader_id: UUID, prices: Mapping[int, Decimal]) -> Decimal:
    leader_book = await book(uow, leader_id, uow.clock.now().date())
    return leader_book.cash + sum(
        (h.quantity * prices.get(h.con_id, h.cost_basis / h.quantity) for h in leader_book.holdings), Decimal(0)
    )


async def _copies(uow: UnitOfWork, signal: SignalRecord) -> list[CopyRecord]:
    if signal.copy_id is not None:
        copy = await store.copy_by_id(uow, signal.copy_id)
        return [copy] if copy is not None and copy.status is CopyStatus.ACTIVE else []
    return await store.copies_of_leader(uow, signal.leader_id, [CopyStatus.ACTIVE, CopyStatus.PAUSED])


def _signal(key: str, leader_id: UUID, con_id: int, side: OrderSide, price: Decimal) -> dict[str, Any]:
    return {
        "key": key,
        "leader_id": leader_id,
        "leader_order_id": None,
        "copy_id": None,
        "con_id": con_id,
        "side": side.value,
        "price": price,
        "processed_at": None,
    }


class _Notes:
    """What the followers are told of a signal: each note once (its outbox key is the copy's and the leader's
    order's, so a later execution of the same order adds nothing)."""

    def __init__(self, signal: SignalRecord, symbol: str, alias: str) -> None:
        self._signal, self._symbol, self._alias = signal, symbol, alias
        self._messages: list[Message] = []

    def add(self, topic: str, copy: CopyRecord, *, reason: str = "") -> None:
        signal = self._signal
        about = signal.leader_order_id or signal.key
        facts = {
            "owner_id": str(copy.follower_id),
            "copy_id": str(copy.id),
            "leader": self._alias,
            "symbol": self._symbol,
            "side": signal.side.value,
            "quantity": str(abs(signal.position_after - signal.position_before)),
            "price": str(signal.price),
            "reason": reason,
        }
        self._messages.append(Message(topic, f"{topic}/{copy.id}/{about}", facts))

    async def publish(self, uow: UnitOfWork) -> int:
        await publish(uow, self._messages)
        return len(self._messages)
