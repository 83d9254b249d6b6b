"""Allocating a block's fills to its orders: whole shares, pro rata, fair, exact. Pure functions on integers.

Shares: after every execution each order holds, within one share, its exact pro-rata part of what the block has
filled so far (filled * ordered / block quantity). The new shares go to the orders furthest below their exact
part, one at a time in effect (largest remainder on the running deficit): nobody ever gives shares back, which
plain largest remainder on the running total could demand (the Alabama paradox). Ties go by a rotation, so over
many blocks no order position is favoured; the rotation comes from the caller, so the result is deterministic.

Commission (in cents) is split over the execution's shares by the same rule; what cannot be split to the cent
goes to the house error account (the caller books it there).

Price: every order gets the block's average price. Each execution is booked at its own price as it arrives
(the investor sees the fill at once); when the block ends, an adjustment brings every order's gross amount to
its shares times the block's average price, to the cent, the fractions to the house.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from ledger.money import ZERO, round_cash


def allocate_shares(ordered: Sequence[int], allocated: Sequence[int], new: int, rotation: int) -> list[int]:
    """How many of `new` shares each order gets, given what each ordered and has been allocated already.

    Orders never get more than they ordered; when the block filled more than its orders want (a reduction that
    reached IB too late), the sum is less than `new` and the caller books the rest to the house.
    """
    if len(ordered) != len(allocated) or new < 0 or any(q < 0 for q in ordered):
        raise ValueError("one ordered and one allocated quantity per order, none negative, and new >= 0")
    if any(not 0 <= a <= q for q, a in zip(ordered, allocated, strict=True)):
        raise ValueError("an order was allocated more than it ordered")
    total = sum(ordered)
    room = [q - a for q, a in zip(ordered, allocated, strict=True)]
    new = min(new, sum(room))
    if new == 0:
        return [0] * len(ordered)
    filled = sum(allocated) + new
    # Deficits scaled by `total`, so that they stay integers: filled * q - a * total.
    deficits = [filled * q - a * total for q, a in zip(ordered, allocated, strict=True)]
    whole = [min(r, max(0, d // total)) for d, r in zip(deficits, room, strict=True)]
    if sum(whole) > new:
        # Some orders are ahead of their part, so the others' whole deficits exceed what is there to give.
        return _by_threshold(deficits, room, total, new, rotation)
    return _top_up(whole, deficits, room, total, new - sum(whole), rotation)


def largest_remainder(total: int, weights: Sequence[int], rotation: int) -> list[int]:
    """`total` (an integer count: cents, shares) split in proportion to the weights, summing exactly to it;
    ties by the rotation. A negative total (a rebate) is split as its opposite and turned around."""
    if total < 0:
        return [-part for part in largest_remainder(-total, weights, rotation)]
    weight = sum(weights)
    if weight <= 0 or any(w < 0 for w in weights):
        raise ValueError("weights are non-negative and not all zero")
    parts = [total * w // weight for w in weights]
    remainders = [total * w - part * weight for w, part in zip(weights, parts, strict=True)]
    for index in _best(remainders, total - sum(parts), rotation, eligible=[w > 0 for w in weights]):
        parts[index] += 1
    return parts


def _top_up(whole: list[int], deficits: list[int], room: list[int], total: int, left: int, rotation: int) -> list[int]:
    """Everyone has had their whole deficit; the last `left` shares go to the largest remaining fractions."""
    remainders = [d - w * total for d, w in zip(deficits, whole, strict=True)]
    eligible = [w < r for w, r in zip(whole, room, strict=True)]
    for index in _best(remainders, left, rotation, eligible):
        whole[index] += 1
    return whole


def _by_threshold(deficits: list[int], room: list[int], total: int, new: int, rotation: int) -> list[int]:
    """The general case: each order's successive claims are its deficit, less `total` per share already given;
    the `new` largest claims win. Found by bisecting on the smallest claim that still wins."""

    def wins_above(threshold: int) -> list[int]:  # claims strictly greater than the threshold, per order
        return [min(r, max(0, -((threshold - d) // total))) for d, r in zip(deficits, room, strict=True)]

    low, high = min(deficits) - total * (max(room) + 1), max(deficits)
    while low < high:  # the least threshold with at most `new` claims above it
        middle = (low + high) // 2
        if sum(wins_above(middle)) <= new:
            high = middle
        else:
            low = middle + 1
    given = wins_above(low)
    # The claims equal to the threshold (at most one per order) share what is left, in rotation order.
    at_threshold = [
        0 if given[i] < room[i] and deficits[i] - given[i] * total == low else -1 for i in range(len(deficits))
    ]
    for index in _best(at_threshold, new - sum(given), rotation, eligible=[c == 0 for c in at_threshold]):
        given[index] += 1
    return given


def _best(scores: Sequence[int], count: int, rotation: int, eligible: Sequence[bool]) -> list[int]:
    """The indices of the `count` highest scores among the eligible, ties broken by position after the
    rotation (the order at `rotation % n` first)."""
    n = len(scores)
    candidates = [i for i in range(n) if eligible[i]]
    if count > len(candidates):
        raise ValueError("more to give than orders to give it to")
    candidates.sort(key=lambda i: (-scores[i], (i - rotation) % n))
    return candidates[:count]


def average_price_adjustments(
    gross_paid: Sequence[Decimal], allocated: Sequence[int], block_gross: Decimal
) -> list[Decimal]:
    """What each order's gross amount must move by, in cents, so that every order ends at the block's average
    price: order i's gross becomes its shares times the average price (block_gross / block shares), rounded to
    the cent. The caller books the adjustments, and their sum's opposite to the house error account."""
    shares = sum(allocated)
    if shares == 0:
        return [ZERO for _ in allocated]
    return [
        round_cash(block_gross * quantity / shares) - paid if quantity else ZERO
        for paid, quantity in zip(gross_paid, allocated, strict=True)
    ]
