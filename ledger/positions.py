"""Positions, as plain values, valued by the average cost method.

Average cost: a buy adds its quantity and its cost (gross plus commission) to the position; a sell takes away
its share of the cost basis, cost_basis * sold / held, rounded to the cent (the whole basis when the position
closes, so nothing is left behind), and realizes proceeds (gross less commission) minus that basis.
The average cost per share is cost_basis / quantity. Only long positions: short sales are refused upstream.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from .money import ZERO, round_cash


@dataclass(frozen=True)
class PositionState:
    quantity: Decimal = ZERO
    cost_basis: Decimal = ZERO
    realized_pnl: Decimal = ZERO

    @property
    def average_cost(self) -> Decimal | None:
        return None if self.quantity == 0 else self.cost_basis / self.quantity

    def buy(self, quantity: Decimal, cost: Decimal) -> PositionState:
        if quantity <= 0:
            raise ValueError("a buy adds a positive quantity")
        return PositionState(self.quantity + quantity, self.cost_basis + cost, self.realized_pnl)

    def sell(self, quantity: Decimal, proceeds: Decimal) -> PositionState:
        if not 0 < quantity <= self.quantity:
            raise ValueError(f"cannot sell {quantity} of a position of {self.quantity}")
        released = (
            self.cost_basis if quantity == self.quantity else round_cash(self.cost_basis * quantity / self.quantity)
        )
        return PositionState(
            self.quantity - quantity, self.cost_basis - released, self.realized_pnl + proceeds - released
        )
