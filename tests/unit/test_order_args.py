"""Reading an order from a command's words: what is accepted, and that nothing else escapes as a crash."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.order_args import parse_order
from broker.order_states import OrderSide, TimeInForce
from core.errors import InvalidCommand


def test_the_ways_of_writing_an_order() -> None:
    assert parse_order(OrderSide.BUY, ["aapl", "10"]).symbol == "AAPL"
    limit = parse_order(OrderSide.BUY, ["AAPL", "10", "limit", "$189.50", "GTC"])
    assert (limit.quantity, limit.limit, limit.tif) == ("10", "189.50", TimeInForce.GTC)
    assert parse_order(OrderSide.SELL, ["AAPL", "all"]).quantity == "all"
    assert parse_order(OrderSide.BUY, []).symbol is None  # asked for with buttons
    assert parse_order(OrderSide.BUY, ["AAPL"]).quantity is None
    for words in (["AAPL", "all"], ["AAPL", "1.5"], ["AAPL", "0"], ["AAPL", "²"], ["A A", "1"], ["AAPL", "1", "x"]):
        with pytest.raises(InvalidCommand):
            parse_order(OrderSide.BUY, words)


@given(side=st.sampled_from(OrderSide), words=st.lists(st.text(max_size=15), max_size=6))
def test_any_words_give_an_order_or_a_polite_refusal(side: OrderSide, words: list[str]) -> None:
    try:
        args = parse_order(side, words)
    except InvalidCommand as refused:
        assert refused.usage.startswith(f"/{side.value}")
    else:
        assert args.quantity is None or args.quantity == "all" or 0 < int(args.quantity) <= 1_000_000
