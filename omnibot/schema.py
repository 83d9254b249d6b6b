"""Every model of every package on one metadata: what Alembic compares the migrations with."""

from __future__ import annotations

import alerts.models
import bot.models
import broker.models
import copytrade.models
import core.models
import ledger.models
import payments.models
from core.orm import Base

MODEL_MODULES = (
    core.models,
    ledger.models,
    broker.models,
    copytrade.models,
    payments.models,
    alerts.models,
    bot.models,
)
metadata = Base.metadata
