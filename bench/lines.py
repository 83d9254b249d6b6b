"""Each measurement as one JSON line (DESIGN.md section 9): the bench, the metric, its value and unit, the goal
when the issue set one, and which way is better."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any


class Lines:
    def __init__(self, bench: str, goals: Mapping[str, float]) -> None:
        self._bench, self._goals = bench, goals

    def __call__(self, metric: str, value: float | None, unit: str, better: str, **extra: Any) -> None:
        line = {"bench": self._bench, "metric": metric, "value": value, "unit": unit, "goal": self._goals.get(metric)}
        print(json.dumps({**line, "better": better, **extra}), flush=True)
