"""The price watcher: the engine (alerts/engine.py) fed by IB's quote streams, one per instrument however many
alerts watch it, and the database kept in step.

A quote is evaluated at once, on the event loop, in memory. What it sets off is written in the watcher's next
round, woken at once: fired alerts told (once: the write is conditional on the count of firings, and the outbox
key is the firing's number), protective orders sold through the normal order flow. A protective order is claimed
in the database before its sale (active -> selling), so one deleted or replaced meanwhile sells nothing; the
sale's key is the order's id, so a sale left half done by a crash is finished, never doubled, by the next
watcher. Every so often the watcher reads the active alerts again, for those set or deleted elsewhere; a
restart reads them all.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from broker.events import Quote
from broker.order_requests import OrderRequest
from broker.order_states import OrderSide
from core.config import Settings
from core.db import Database, UnitOfWork
from core.errors import BrokerUnavailable, DomainError
from core.outbox import Message, publish
from core.rounds import Rounds
from ledger.accounts import AccountKind, Asset
from ledger.service import open_account

from . import store
from .engine import AlertEngine, Protective, Tick
from .models import WatchStatus
from .rules import Fired, PriceAlert

log = logging.getLogger("omnibot.alerts")
PlaceOrder = Callable[[OrderRequest], Awaitable[Any]]


class QuoteStreams(Protocol):
    def stream(self, con_id: int, listener: Callable[[Quote], None]) -> Callable[[], None]: ...


class Watch(Protocol):
    """What the alert desk hands alerts and protective orders to, once they are committed."""

    def watch(self, alert: PriceAlert) -> None: ...
    def watch_protective(self, order: Protective) -> None: ...
    def forget(self, watched_id: UUID) -> None: ...
    async def sync(self) -> None: ...


class PriceWatcher:
    def __init__(self, db: Database, streams: QuoteStreams, place_order: PlaceOrder, settings: Settings) -> None:
        self._db, self._streams, self._place_order = db, streams, place_order
        self.engine = AlertEngine()
        self._pending = Tick()
        self._flushing = asyncio.Lock()
        self._busy: set[UUID] = set()  # protective orders being sold, and their pairs: sync leaves them be
        self._recovering: list[Protective] = []  # sales a stopped watcher left half done
        self._last: dict[int, Decimal] = {}  # the last trade price seen, per instrument
        self._unsubscribe: dict[int, Callable[[], None]] = {}
        self._sync_every = timedelta(seconds=settings.alerts_sync_seconds)
        self._next_sync = datetime.min.replace(tzinfo=UTC)
        self._rounds = Rounds("price watch", self._round, settings.alerts_sync_seconds)

    async def start(self) -> None:
        await self.sync()
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()
        for unsubscribe in self._unsubscribe.values():
            unsubscribe()
        self._unsubscribe.clear()

    # ---- what the bot calls, after its transaction committed

    def watch(self, alert: PriceAlert) -> None:
        self.engine.watch(alert)
        self._subscribe()

    def watch_protective(self, order: Protective) -> None:
        self.engine.watch_protective(order)
        self._subscribe()

    def forget(self, watched_id: UUID) -> None:
        self.engine.forget(watched_id)
        self._subscribe()

    def resync(self) -> None:
        """Read the database again now (alerts set or deleted by another process)."""
        self._next_sync = datetime.min.replace(tzinfo=UTC)
        self._rounds.wake()

    # ---- quotes

    def last_price(self, con_id: int) -> Decimal | None:
        return self._last.get(con_id)

    def on_quote(self, quote: Quote) -> None:
        if quote.last is None:
            return
        self._last[quote.con_id] = quote.last
        found = self.engine.tick(quote.con_id, quote.last, self._db.clock.now())
        if found:
            self._pending.fired += found.fired
            self._pending.rearmed += found.rearmed
            self._pending.hit += found.hit
            self._pending.paired += found.paired
            self._rounds.wake()

    def _subscribe(self) -> None:
        """One stream for each instrument something waits on; none for the others."""
        wanted = self.engine.instruments()
        for con_id in set(self._unsubscribe) - wanted:
            self._unsubscribe.pop(con_id)()
        for con_id in wanted - set(self._unsubscribe):
            self._unsubscribe[con_id] = self._streams.stream(con_id, self.on_quote)

    # ---- rounds

    async def _round(self) -> None:
        await self.flush()
        if self._db.clock.now() >= self._next_sync:
            await self.sync()
            self._next_sync = self._db.clock.now() + self._sync_every

    async def flush(self) -> None:
        """Write and tell what the quotes set off since the last round; sell what protective orders were hit."""
        async with self._flushing:  # one at a time: a flush that returns has written all it took
            found, self._pending = self._pending, Tick()
            if found.fired or found.rearmed:
                await self._db.transact(lambda uow: _record(uow, found))
            for order in found.hit:
                pair = [
                    other for other in found.paired if (other.owner_id, other.con_id) == (order.owner_id, order.con_id)
                ]
                await self._sell(order, pair)
            recovering, self._recovering = self._recovering, []
            for order in recovering:
                await self._sell(order, [], claimed=True)

    async def sync(self) -> None:
        """Watch what the database has active, and nothing else (set or deleted by another process, or before a
        restart). What a quote set off but the watcher has not written yet, and the orders being sold with their
        pairs, are left as the engine has them. Sales a stopped watcher left half done are finished."""
        alerts, protective, selling = await self._db.transact(_active, readonly=True)
        settling = {f.alert.id for f in self._pending.fired} | {o.id for o in self._pending.hit} | self._busy
        known = {a.id: a for a in alerts} | {o.id: o for o in protective}
        for watched_id in set(self.engine.alerts) | set(self.engine.protective):
            if watched_id not in known and watched_id not in settling:
                self.engine.forget(watched_id)
        for alert in alerts:
            if alert.id not in self.engine.alerts and alert.id not in settling:
                self.engine.watch(alert)
        for order in protective:
            if order.id not in self.engine.protective and order.id not in settling:
                self.engine.watch_protective(order)
        self._recovering += [order for order in selling if order.id not in settling]
        if self._recovering:
            self._rounds.wake()
        self._subscribe()

    async def _sell(self, order: Protective, pair: list[Protective], *, claimed: bool = False) -> None:
        """Sell the position (or the part named) at market, as the investor agreed when they set the order. The
        order is claimed first (a deleted or replaced one sells nothing); its pair is cancelled only once the
        sale is placed, and watched again if it is not."""
        self._busy |= {order.id, *(other.id for other in pair)}
        try:
            if not claimed and not await self._db.transact(lambda uow: store.claim_protective(uow, order.id)):
                return
            asset = Asset.instrument(order.con_id)
            position = await self._db.transact(
                lambda uow: open_account(uow, AccountKind.INVESTOR_POSITION, asset, order.owner_id)
            )
            quantity = min(order.quantity or position.available, position.available)
            if quantity <= 0:
                await self._db.transact(lambda uow: _ended(uow, order, WatchStatus.FAILED, "no shares left to sell"))
                self._watch_again(pair)
                return
            request = OrderRequest(order.owner_id, f"protect/{order.id}", order.symbol, OrderSide.SELL, quantity)
            try:
                placed = await self._place_order(request)
            except BrokerUnavailable:  # given back: the next quote past the trigger tries again
                await self._db.transact(lambda uow: store.finish_protective(uow, order.id, WatchStatus.ACTIVE, ""))
                self._watch_again([order, *pair])
                return
            except DomainError as refused:
                reason = str(refused)
                await self._db.transact(lambda uow: _ended(uow, order, WatchStatus.FAILED, reason))
                self._watch_again(pair)
                return
            await self._db.transact(lambda uow: _ended(uow, order, WatchStatus.DONE, "sold", placed.id, quantity, pair))
        finally:
            self._busy -= {order.id, *(other.id for other in pair)}

    def _watch_again(self, orders: list[Protective]) -> None:
        for order in orders:
            self.engine.watch_protective(order)
        self._subscribe()


async def _active(uow: UnitOfWork) -> tuple[list[PriceAlert], list[Protective], list[Protective]]:
    selling = await store.active_protective(uow, status=WatchStatus.SELLING)
    return await store.active_alerts(uow), await store.active_protective(uow), selling


async def _record(uow: UnitOfWork, found: Tick) -> None:
    told = [fired for fired in found.fired if await store.record_fired(uow, fired.alert, fired.after)]
    await store.record_rearmed(uow, [alert.id for alert in found.rearmed])
    await publish(uow, [Message("alert.price", _key(fired), _payload(fired)) for fired in told])


def _key(fired: Fired) -> str:
    return f"alert/{fired.alert.id}/{fired.alert.fired_count + 1}"


def _payload(fired: Fired) -> dict[str, Any]:
    alert = fired.alert
    return {
        "owner_id": str(alert.owner_id),
        "alert_id": str(alert.id),
        "symbol": alert.symbol,
        "condition": alert.condition.value,
        "level": str(alert.level),
        "reference": None if alert.reference is None else str(alert.reference),
        "price": str(fired.price),
        "repeat": alert.repeat,
        "at": fired.at.isoformat(),
    }


async def _ended(
    uow: UnitOfWork, order: Protective, status: WatchStatus, note: str, placed: UUID | None = None,
    quantity: Decimal | None = None, pair: list[Protective] | None = None,
) -> None:  # fmt: skip
    if not await store.finish_protective(uow, order.id, status, note, placed):
        return  # finished already (by another watcher)
    for other in pair or []:
        await store.close_protective(uow, other.id, WatchStatus.DELETED, "the other order of the pair sold")
    topic = "alert.protective_sold" if status is WatchStatus.DONE else "alert.protective_failed"
    payload = {
        "owner_id": str(order.owner_id),
        "symbol": order.symbol,
        "kind": order.kind.value,
        "trigger": str(order.trigger),
        "quantity": None if quantity is None else str(quantity),
        "note": note,
    }
    await publish(uow, [Message(topic, f"protective/{order.id}", payload)])


class WatchLink:
    """The price watcher as the alert desk reaches it: this process's own while it holds the IB connection (the
    watcher lives on its quote streams), else the broker process's, woken to read the database again."""

    def __init__(self, wake_remote: Callable[[], None]) -> None:
        self.local: PriceWatcher | None = None
        self._wake_remote = wake_remote

    def watch(self, alert: PriceAlert) -> None:
        if self.local is not None:
            self.local.watch(alert)
        else:
            self._wake_remote()

    def watch_protective(self, order: Protective) -> None:
        if self.local is not None:
            self.local.watch_protective(order)
        else:
            self._wake_remote()

    def forget(self, watched_id: UUID) -> None:
        if self.local is not None:
            self.local.forget(watched_id)
        else:
            self._wake_remote()

    async def sync(self) -> None:
        if self.local is not None:
            await self.local.sync()
        else:
            self._wake_remote()
