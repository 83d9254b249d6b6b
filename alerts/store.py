"""The price watch's SQL: price alerts and protective orders, and what happens to them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import Table, func, insert, select, update

from core.db import UnitOfWork
from core.errors import NotFound
from ledger.instruments import INSTRUMENTS

from .engine import Protective
from .models import PriceAlertRow, ProtectiveOrderRow, ProtectKind, WatchStatus
from .rules import PriceAlert

ALERTS: Table = PriceAlertRow.__table__  # type: ignore[assignment]
PROTECTIVE: Table = ProtectiveOrderRow.__table__  # type: ignore[assignment]
ACTIVE = WatchStatus.ACTIVE.value


async def add_alert(uow: UnitOfWork, alert: PriceAlert) -> PriceAlert:
    await uow.connection.execute(insert(ALERTS).values(**_alert_row(alert), created_at=uow.clock.now()))
    return alert


async def active_alerts(uow: UnitOfWork, owner_id: UUID | None = None) -> list[PriceAlert]:
    """Every active alert (of one investor, when named), oldest first."""
    query = _alerts().where(ALERTS.c.status == ACTIVE).order_by(ALERTS.c.created_at, ALERTS.c.id)
    if owner_id is not None:
        query = query.where(ALERTS.c.owner_id == owner_id)
    return [_alert(row) for row in await uow.connection.execute(query)]


async def count_active(uow: UnitOfWork, owner_id: UUID) -> int:
    query = select(func.count()).where(ALERTS.c.owner_id == owner_id, ALERTS.c.status == ACTIVE)
    return int(await uow.connection.scalar(query) or 0)


async def delete_alert(uow: UnitOfWork, owner_id: UUID, alert_id: UUID) -> None:
    """The investor's own active alert, deleted; NotFound for anyone else's, or one already gone."""
    done = await uow.connection.execute(
        update(ALERTS)
        .where(ALERTS.c.id == alert_id, ALERTS.c.owner_id == owner_id, ALERTS.c.status == ACTIVE)
        .values(status=WatchStatus.DELETED.value)
    )
    if done.rowcount != 1:
        raise NotFound("alert", alert_id)


async def record_fired(uow: UnitOfWork, before: PriceAlert, after: PriceAlert | None) -> bool:
    """Write what firing made of the alert, unless another watcher wrote it first (then False: not told twice)."""
    changes: dict[str, Any] = (
        {"status": WatchStatus.DONE.value, "fired_count": before.fired_count + 1, "last_fired_at": uow.clock.now()}
        if after is None
        else {name: value for name, value in _alert_row(after).items() if name not in ("id", "owner_id", "con_id")}
    )
    done = await uow.connection.execute(
        update(ALERTS)
        .where(ALERTS.c.id == before.id, ALERTS.c.status == ACTIVE, ALERTS.c.fired_count == before.fired_count)
        .values(**changes)
    )
    return bool(done.rowcount == 1)


async def record_rearmed(uow: UnitOfWork, alert_ids: Sequence[UUID]) -> None:
    if alert_ids:
        query = update(ALERTS).where(ALERTS.c.id.in_(alert_ids), ALERTS.c.status == ACTIVE).values(armed=True)
        await uow.connection.execute(query)


async def set_protective(uow: UnitOfWork, order: Protective) -> None:
    """A stop or a target on a position; one set before of the same kind is replaced."""
    now = uow.clock.now()
    await uow.connection.execute(
        update(PROTECTIVE)
        .where(
            PROTECTIVE.c.owner_id == order.owner_id,
            PROTECTIVE.c.con_id == order.con_id,
            PROTECTIVE.c.kind == order.kind.value,
            PROTECTIVE.c.status == ACTIVE,
        )
        .values(status=WatchStatus.DELETED.value, note="replaced", updated_at=now)
    )
    values = {
        "id": order.id,
        "owner_id": order.owner_id,
        "con_id": order.con_id,
        "kind": order.kind.value,
        "trigger": order.trigger,
        "quantity": order.quantity,
        "status": ACTIVE,
        "note": "",
        "created_at": now,
        "updated_at": now,
    }
    await uow.connection.execute(insert(PROTECTIVE).values(**values))


async def active_protective(
    uow: UnitOfWork, owner_id: UUID | None = None, *, status: WatchStatus = WatchStatus.ACTIVE
) -> list[Protective]:
    """The protective orders waiting for their price (or, with `status=SELLING`, those whose sale was being
    placed when a watcher stopped)."""
    query = (
        select(PROTECTIVE, INSTRUMENTS.c.symbol)
        .join(INSTRUMENTS, INSTRUMENTS.c.con_id == PROTECTIVE.c.con_id)
        .where(PROTECTIVE.c.status == status.value)
        .order_by(PROTECTIVE.c.created_at, PROTECTIVE.c.id)
    )
    if owner_id is not None:
        query = query.where(PROTECTIVE.c.owner_id == owner_id)
    return [
        Protective(row.id, row.owner_id, row.con_id, row.symbol, ProtectKind(row.kind), row.trigger, row.quantity)
        for row in await uow.connection.execute(query)
    ]


async def claim_protective(uow: UnitOfWork, order_id: UUID) -> bool:
    """Take a protective order that was hit, to sell: False when it is no longer active (deleted, replaced, or
    taken by another watcher), and then nothing is sold."""
    done = await uow.connection.execute(
        update(PROTECTIVE)
        .where(PROTECTIVE.c.id == order_id, PROTECTIVE.c.status == ACTIVE)
        .values(status=WatchStatus.SELLING.value, updated_at=uow.clock.now())
    )
    return bool(done.rowcount == 1)


async def finish_protective(
    uow: UnitOfWork, order_id: UUID, status: WatchStatus, note: str, placed: UUID | None = None
) -> bool:
    """End the sale of a claimed protective order (done, failed), or give it back (active); False if it had
    been finished already."""
    done = await uow.connection.execute(
        update(PROTECTIVE)
        .where(PROTECTIVE.c.id == order_id, PROTECTIVE.c.status == WatchStatus.SELLING.value)
        .values(status=status.value, note=note[:200], order_id=placed, updated_at=uow.clock.now())
    )
    return bool(done.rowcount == 1)


async def close_protective(
    uow: UnitOfWork, order_id: UUID, status: WatchStatus, note: str, *, owner_id: UUID | None = None,
    placed: UUID | None = None,
) -> bool:  # fmt: skip
    """End an active protective order (sold, failed, deleted); False when it had ended already."""
    query = update(PROTECTIVE).where(PROTECTIVE.c.id == order_id, PROTECTIVE.c.status == ACTIVE)
    if owner_id is not None:
        query = query.where(PROTECTIVE.c.owner_id == owner_id)
    values = {"status": status.value, "note": note[:200], "order_id": placed, "updated_at": uow.clock.now()}
    done = await uow.connection.execute(query.values(**values))
    return bool(done.rowcount == 1)


def _alerts() -> Any:
    return select(ALERTS, INSTRUMENTS.c.symbol).join(INSTRUMENTS, INSTRUMENTS.c.con_id == ALERTS.c.con_id)


def _alert(row: Any) -> PriceAlert:
    return PriceAlert(
        id=row.id,
        owner_id=row.owner_id,
        con_id=row.con_id,
        symbol=row.symbol,
        condition=row.condition,
        level=Decimal(row.level),
        reference=None if row.reference is None else Decimal(row.reference),
        repeat=row.repeat,
        cooldown=timedelta(seconds=row.cooldown_seconds),
        armed=row.armed,
        fired_count=row.fired_count,
        last_fired_at=row.last_fired_at,
    )


def _alert_row(alert: PriceAlert) -> dict[str, Any]:
    return {
        "id": alert.id,
        "owner_id": alert.owner_id,
        "con_id": alert.con_id,
        "condition": alert.condition.value,
        "level": alert.level,
        "reference": alert.reference,
        "repeat": alert.repeat,
        "cooldown_seconds": int(alert.cooldown.total_seconds()),
        "armed": alert.armed,
        "fired_count": alert.fired_count,
        "last_fired_at": alert.last_fired_at,
        "status": ACTIVE,
    }
