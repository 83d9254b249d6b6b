"""Contracts and quotes through the one IB connection: qualification (cached), snapshot quotes and streaming
quotes that are subscribed again after IB reports market data lost (error 1101)."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from decimal import Decimal

from ib_async import Stock, Ticker

from core.clock import Clock
from core.errors import BrokerRequestFailed

from .connection import IBConnection
from .events import Contract, Quote
from .order_requests import Market

DELAYED_TYPES = frozenset({3, 4})
QuoteListener = Callable[[Quote], None]


@dataclass(slots=True)
class _Stream:
    contract: Stock
    ticker: Ticker | None  # None while there is no connection to subscribe on
    listeners: list[QuoteListener]


class MarketData:
    def __init__(
        self, connection: IBConnection, clock: Clock, *, snapshot_timeout: float = 11, fresh_seconds: float = 1.0
    ) -> None:
        self._connection, self._clock, self._snapshot_timeout = connection, clock, snapshot_timeout
        self._fresh_seconds = fresh_seconds
        self._contracts: dict[str, Contract | None] = {}
        self._streams: dict[int, _Stream] = {}
        self._snapshots: dict[int, tuple[float, Quote]] = {}  # con_id -> (when, monotonic seconds; the quote)
        self._asking: dict[int, asyncio.Task[Quote]] = {}
        connection.market_data_resubscribe = self._resubscribe

    async def qualify(self, symbol: str) -> Contract | None:
        """The US stock or ETF IB knows by this symbol, or None when IB has no such contract."""
        key = symbol.strip().upper()
        if key not in self._contracts:
            await self._connection.wait_ready()
            details = await self._connection.ib.reqContractDetailsAsync(Stock(key, "SMART", "USD"))
            self._contracts[key] = (
                Contract(
                    con_id=details[0].contract.conId,
                    symbol=details[0].contract.symbol,
                    primary_exchange=details[0].contract.primaryExchange,
                    currency=details[0].contract.currency,
                    description=details[0].longName,
                )
                if len(details) == 1 and details[0].contract is not None
                else None
            )
        return self._contracts[key]

    async def quote(self, con_id: int) -> Quote:
        """Bid, ask, last and close as IB has them now: from the instrument's stream when one is open, else a
        snapshot. A snapshot younger than `fresh_seconds` is shared, and so is one being asked for: a hundred
        investors buying the same share at once make one request to IB, not a hundred (IB paces messages)."""
        stream = self._streams.get(con_id)
        if stream is not None and stream.ticker is not None and not math.isnan(stream.ticker.marketPrice()):
            return self._quote_of(stream.ticker)
        taken, known = self._snapshots.get(con_id, (0.0, None))
        if known is not None and time.monotonic() - taken < self._fresh_seconds:
            return known
        asking = self._asking.get(con_id)
        if asking is None:
            asking = self._asking[con_id] = asyncio.create_task(self._snapshot(con_id))
            asking.add_done_callback(lambda _done: self._asking.pop(con_id, None))
        quote = await asyncio.shield(asking)
        self._snapshots[con_id] = (time.monotonic(), quote)
        return quote

    async def _snapshot(self, con_id: int) -> Quote:
        await self._connection.wait_ready()
        contract = Stock(conId=con_id, exchange="SMART", currency="USD")
        try:
            async with asyncio.timeout(self._snapshot_timeout):
                [ticker] = await self._connection.ib.reqTickersAsync(contract)
        except TimeoutError:
            raise BrokerRequestFailed(0, f"no quote for conId {con_id} within {self._snapshot_timeout} s") from None
        return self._quote_of(ticker)

    def stream(self, con_id: int, listener: QuoteListener) -> Callable[[], None]:
        """Call `listener` with every quote update; one IB subscription per instrument, shared by all listeners,
        and made again after every reconnect. Returns the function that stops this listener."""
        stream = self._streams.get(con_id)
        if stream is None:
            contract = Stock(conId=con_id, exchange="SMART", currency="USD")
            stream = self._streams[con_id] = _Stream(contract, None, [])
            if self._connection.ib.isConnected():
                stream.ticker = self._subscribe(con_id, contract)
        stream.listeners.append(listener)

        def stop() -> None:
            if listener in stream.listeners:
                stream.listeners.remove(listener)
            if not stream.listeners and self._streams.get(con_id) is stream:
                del self._streams[con_id]
                if stream.ticker is not None and self._connection.ib.isConnected():
                    self._connection.ib.cancelMktData(stream.contract)

        return stop

    @property
    def streamed(self) -> set[int]:
        return set(self._streams)

    def _subscribe(self, con_id: int, contract: Stock) -> Ticker:
        ticker = self._connection.ib.reqMktData(contract)
        ticker.updateEvent += lambda updated: self._tell(con_id, updated)
        return ticker

    def _tell(self, con_id: int, ticker: Ticker) -> None:
        stream = self._streams.get(con_id)
        if stream is not None and ticker is stream.ticker:
            quote = self._quote_of(ticker)
            for listener in list(stream.listeners):
                listener(quote)

    def _resubscribe(self, *, dropped: bool) -> None:
        """Ask IB again for every stream, keeping the listeners: after IB dropped the subscriptions (1101,
        `dropped`), or on a new connection, which starts with none."""
        for con_id, stream in self._streams.items():
            if dropped and stream.ticker is not None:
                self._connection.ib.cancelMktData(stream.contract)
            fresh = self._connection.ib.reqMktData(stream.contract)
            if fresh is not stream.ticker:  # ib_async may hand back the same ticker, already listened to
                fresh.updateEvent += lambda updated, con_id=con_id: self._tell(con_id, updated)
                stream.ticker = fresh

    def _quote_of(self, ticker: Ticker) -> Quote:
        assert ticker.contract is not None
        return Quote(
            con_id=ticker.contract.conId,
            bid=_price(ticker.bid),
            ask=_price(ticker.ask),
            last=_price(ticker.last),
            close=_price(ticker.close),
            bid_size=_size(ticker.bidSize),
            ask_size=_size(ticker.askSize),
            delayed=ticker.marketDataType in DELAYED_TYPES,
            at=self._clock.now(),
        )


def _price(value: float | None) -> Decimal | None:
    """IB marks a missing price as NaN or -1; a price of 0 is no price either (it would set off every stop)."""
    if value is None or math.isnan(value) or value <= 0:
        return None
    return Decimal(repr(value))


def _size(value: float | None) -> Decimal | None:
    """IB marks a missing size as NaN or -1; a size of 0 is a size."""
    if value is None or math.isnan(value) or value < 0:
        return None
    return Decimal(repr(value))


async def last_prices(market: Market, con_ids: Collection[int]) -> dict[int, Decimal]:
    """The last price (else the previous close) of each instrument IB can price now; one it cannot is left out
    (the caller decides what an unpriced holding means), so one bad instrument never fails the rest."""
    wanted = sorted(con_ids)
    quotes = await asyncio.gather(*(market.quote(con_id) for con_id in wanted), return_exceptions=True)
    return {
        con_id: price
        for con_id, quote in zip(wanted, quotes, strict=True)
        if isinstance(quote, Quote) and (price := quote.last or quote.close)
    }
