"""An investor's limits: the platform's settings, unless an admin set tighter (or looser) ones for them (orders a
minute, the largest order, withdrawals a day)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import UUID

from sqlalchemy import Table, select

from core.bulk import upsert_rows
from core.config import Settings
from core.db import UnitOfWork
from core.models import UserLimits

LIMITS: Table = UserLimits.__table__  # type: ignore[assignment]


@dataclass(frozen=True)
class Limits:
    orders_per_minute: int
    max_order_notional: Decimal
    withdrawal_daily_limit: Decimal


@dataclass(frozen=True)
class Overrides:
    orders_per_minute: int | None = None
    max_order_notional: Decimal | None = None
    withdrawal_daily_limit: Decimal | None = None


async def limits_of(uow: UnitOfWork, settings: Settings, user_id: UUID) -> Limits:
    row = (await uow.connection.execute(select(LIMITS).where(LIMITS.c.user_id == user_id))).one_or_none()
    return Limits(
        row.orders_per_minute if row and row.orders_per_minute is not None else settings.trading_orders_per_minute,
        row.max_order_notional if row and row.max_order_notional is not None else settings.trading_max_order_notional,
        row.withdrawal_daily_limit
        if row and row.withdrawal_daily_limit is not None
        else settings.payments_withdrawal_daily_limit,
    )


async def set_overrides(uow: UnitOfWork, user_id: UUID, overrides: Overrides) -> None:
    row = {"user_id": user_id, **overrides.__dict__, "updated_at": uow.clock.now()}
    await upsert_rows(uow, LIMITS, [row], key="user_id")
