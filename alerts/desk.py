"""The alert desk: what the bot calls to set, list and delete price alerts and protective orders. It checks
them against the market now (an alert already true, a stop above the price, a position that is not there), writes
them, and hands them to the price watcher."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from uuid import UUID

from broker.events import Contract, Quote
from broker.order_requests import Market, instrument_of
from core import audit
from core.config import Settings
from core.db import Database, UnitOfWork
from core.errors import AlertRefused, NotTradable
from core.pending_actions import Spend, spent_with
from ledger.accounts import AccountKind, Asset
from ledger.instruments import ensure_instrument
from ledger.service import open_account

from . import store
from .engine import Protective
from .models import ProtectKind, WatchStatus
from .rules import Condition, PriceAlert
from .watcher import Watch

MAX_MOVE_PCT = Decimal(50)


@dataclass(frozen=True)
class Watching:
    """An investor's active alerts and protective orders."""

    alerts: list[PriceAlert]
    protective: list[Protective]


class AlertDesk:
    def __init__(self, db: Database, market: Market, watcher: Watch, settings: Settings) -> None:
        self._db, self._market, self._watcher, self._settings = db, market, watcher, settings

    async def add_alert(
        self, owner_id: UUID, symbol: str, condition: Condition, level: Decimal, *, repeat: bool,
        cooldown: timedelta | None = None,
    ) -> PriceAlert:  # fmt: skip
        contract, price = await self._priced(symbol)
        if condition is Condition.MOVE and not 0 < level <= MAX_MOVE_PCT:
            raise AlertRefused(f"a move is a percentage above 0 and at most {MAX_MOVE_PCT}")
        alert = PriceAlert(
            id=self._db.ids.new_id(),
            owner_id=owner_id,
            con_id=contract.con_id,
            symbol=contract.symbol,
            condition=condition,
            level=level,
            reference=price if condition is Condition.MOVE else None,
            repeat=repeat,
            cooldown=cooldown or timedelta(minutes=self._settings.alerts_default_cooldown_minutes),
        )
        if condition is not Condition.MOVE and alert.holds_at(price):
            raise AlertRefused(f"{contract.symbol} is at {_usd(price)} now, already {condition.value} {_usd(level)}")

        async def write(uow: UnitOfWork) -> PriceAlert:
            if await store.count_active(uow, owner_id) >= self._settings.alerts_max_per_investor:
                raise AlertRefused(f"you have {self._settings.alerts_max_per_investor} alerts: delete one first")
            await ensure_instrument(uow, instrument_of(contract))
            return await store.add_alert(uow, alert)

        await self._db.transact(write)
        self._watcher.watch(alert)
        return alert

    async def delete(self, owner_id: UUID, watched_id: UUID) -> None:
        """Delete the investor's alert or protective order (NotFound if it is not theirs, or has ended)."""

        async def write(uow: UnitOfWork) -> None:
            ended = await store.close_protective(uow, watched_id, WatchStatus.DELETED, "deleted", owner_id=owner_id)
            if not ended:
                await store.delete_alert(uow, owner_id, watched_id)

        await self._db.transact(write)
        self._watcher.forget(watched_id)

    async def watching(self, owner_id: UUID) -> Watching:
        async def read(uow: UnitOfWork) -> Watching:
            return Watching(await store.active_alerts(uow, owner_id), await store.active_protective(uow, owner_id))

        return await self._db.transact(read, readonly=True)

    async def check_protective(
        self, owner_id: UUID, symbol: str, kind: ProtectKind, trigger: Decimal, quantity: Decimal | None
    ) -> tuple[Protective, Decimal, Decimal]:
        """The protective order as asked, the shares it would sell now, and the price now; refused when it
        would sell at once (a stop at or above the price, a target at or below) or there are no shares."""
        contract, price = await self._priced(symbol)
        if kind is ProtectKind.STOP and trigger >= price:
            raise AlertRefused(f"{contract.symbol} is at {_usd(price)} now: a stop goes below the price")
        if kind is ProtectKind.TARGET and trigger <= price:
            raise AlertRefused(f"{contract.symbol} is at {_usd(price)} now: a target goes above the price")
        asset = Asset.instrument(contract.con_id)
        position = await self._db.transact(
            lambda uow: open_account(uow, AccountKind.INVESTOR_POSITION, asset, owner_id)
        )
        if position.available <= 0:
            raise AlertRefused(f"you hold no {contract.symbol} shares to protect")
        if quantity is not None and quantity > position.available:
            held = f"{position.available.normalize():f}"
            raise AlertRefused(f"you hold {held} {contract.symbol} shares, not {quantity}")
        order = Protective(self._db.ids.new_id(), owner_id, contract.con_id, contract.symbol, kind, trigger, quantity)
        return order, quantity or position.available, price

    async def set_protective(self, order: Protective, *, spending: Spend | None = None) -> Protective:
        """Set it (consent given: the investor confirmed the preview, and `spending` spends that confirmation in
        the same transaction); one of the same kind is replaced."""

        async def write(uow: UnitOfWork) -> None:
            await store.set_protective(uow, order)
            detail = {"kind": order.kind.value, "trigger": order.trigger, "quantity": order.quantity or "all"}
            await audit.record(uow, f"user:{order.owner_id}", "protective.set", order.id, symbol=order.symbol, **detail)

        await self._db.transact(spent_with(spending, write))
        await self._watcher.sync()  # the one it replaced is forgotten, this one watched
        return order

    async def _priced(self, symbol: str) -> tuple[Contract, Decimal]:
        contract = await self._market.qualify(symbol)
        if contract is None:
            raise NotTradable(symbol, "the broker knows no US stock or ETF by this symbol")
        quote: Quote = await self._market.quote(contract.con_id)
        price = quote.last or quote.close
        if price is None:
            raise NotTradable(contract.symbol, "the broker has no price for it now")
        return contract, price


def _usd(amount: Decimal) -> str:
    return f"${amount:,.2f}"
