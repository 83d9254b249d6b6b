"""One API client's connection: the handshake, then requests answered in the order a real gateway answers them,
and the subscriptions (market data, account, positions, account summary) that this client holds."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING

from . import messages, order_messages, ticks
from .market import Quote
from .orders import Execution, SimOrder
from .protocol import (
    SERVER_VERSION_MAX,
    SERVER_VERSION_MIN,
    Arrivals,
    Field,
    FieldReader,
    ProtocolError,
    encode,
    read_greeting,
    read_message,
)
from .requests import ContractQuery, OrderTicket
from .subscriptions import AccountReports

if TYPE_CHECKING:
    from .gateway import GatewaySimulator

log = logging.getLogger("ibsim")

# Client requests, as numbered by the TWS API.
IN_REQ_MKT_DATA, IN_CANCEL_MKT_DATA, IN_PLACE_ORDER, IN_CANCEL_ORDER, IN_REQ_OPEN_ORDERS = 1, 2, 3, 4, 5
IN_REQ_ACCOUNT_UPDATES, IN_REQ_EXECUTIONS, IN_REQ_IDS, IN_REQ_CONTRACT_DATA = 6, 7, 8, 9
IN_REQ_AUTO_OPEN_ORDERS, IN_REQ_ALL_OPEN_ORDERS, IN_REQ_MANAGED_ACCOUNTS = 15, 16, 17
IN_REQ_CURRENT_TIME, IN_REQ_GLOBAL_CANCEL, IN_REQ_MARKET_DATA_TYPE, IN_REQ_POSITIONS = 49, 58, 59, 61
IN_REQ_ACCOUNT_SUMMARY, IN_CANCEL_ACCOUNT_SUMMARY, IN_CANCEL_POSITIONS, IN_START_API = 62, 63, 64, 71
IN_REQ_ACCOUNT_UPDATES_MULTI, IN_CANCEL_ACCOUNT_UPDATES_MULTI, IN_REQ_COMPLETED_ORDERS = 76, 77, 99

OUT_ERROR, OUT_NEXT_VALID_ID, OUT_CONTRACT_DATA_END, OUT_MANAGED_ACCOUNTS = 4, 9, 52, 15
OUT_CURRENT_TIME, OUT_OPEN_ORDER_END, OUT_EXEC_DETAILS_END, OUT_COMPLETED_ORDERS_END = 49, 53, 55, 102

FARMS_OK = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)
NOT_SUBSCRIBED = 354, "Requested market data is not subscribed. Delayed market data is available."


class ClientSession:
    def __init__(self, gateway: GatewaySimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.gateway = gateway
        self.reader = reader
        self.writer = writer
        self.server_version = 0
        self.client_id: int | None = None
        self.market_data_type = ticks.LIVE
        self.market_data: dict[int, tuple[int, int]] = {}  # reqId -> (conId, market data type) while streaming
        self.reports = AccountReports(self)
        self._recent: deque[float] = deque()  # arrival times of the last second's messages, for pacing
        self._arrivals = Arrivals(reader)
        self._handlers: dict[int, Callable[[list[str]], None]] = {
            IN_START_API: self._start_api,
            IN_REQ_IDS: lambda _: self.send(OUT_NEXT_VALID_ID, 1, self.gateway.next_order_id),
            IN_REQ_MANAGED_ACCOUNTS: lambda _: self.send(OUT_MANAGED_ACCOUNTS, 1, self.gateway.account.code),
            IN_REQ_CURRENT_TIME: lambda _: self.send(OUT_CURRENT_TIME, 1, int(self.gateway.clock().timestamp())),
            IN_REQ_CONTRACT_DATA: self._req_contract_data,
            IN_REQ_MARKET_DATA_TYPE: self._req_market_data_type,
            IN_REQ_MKT_DATA: self._req_mkt_data,
            IN_CANCEL_MKT_DATA: self._cancel_mkt_data,
            IN_PLACE_ORDER: self._place_order,
            IN_CANCEL_ORDER: lambda fields: self.gateway.desk.cancel(self._client, int(fields[2])),
            IN_REQ_GLOBAL_CANCEL: lambda _: self.gateway.desk.cancel_all(),
            IN_REQ_OPEN_ORDERS: lambda _: self._req_open_orders(everyone=False),
            IN_REQ_ALL_OPEN_ORDERS: lambda _: self._req_open_orders(everyone=True),
            IN_REQ_AUTO_OPEN_ORDERS: lambda _: None,
            IN_REQ_COMPLETED_ORDERS: self._req_completed_orders,
            IN_REQ_EXECUTIONS: self._req_executions,
            IN_REQ_POSITIONS: lambda _: self.reports.subscribe_positions(),
            IN_CANCEL_POSITIONS: lambda _: self.reports.cancel_positions(),
            IN_REQ_ACCOUNT_UPDATES: lambda fields: self.reports.account_updates(fields[2] not in ("0", "")),
            IN_REQ_ACCOUNT_UPDATES_MULTI: lambda fields: self.reports.account_updates_multi(int(fields[2]), fields[4]),
            IN_CANCEL_ACCOUNT_UPDATES_MULTI: lambda fields: self.reports.cancel(int(fields[2])),
            IN_REQ_ACCOUNT_SUMMARY: lambda fields: self.reports.account_summary(int(fields[2]), fields[4]),
            IN_CANCEL_ACCOUNT_SUMMARY: lambda fields: self.reports.cancel(int(fields[2])),
        }

    @property
    def _client(self) -> int:
        assert self.client_id is not None
        return self.client_id

    async def run(self) -> None:
        try:
            await self._handshake()
            while True:
                fields = await read_message(self.reader)
                self._receive(fields, self._arrivals.last_read())
                await self.writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass  # the client went away
        except (ProtocolError, ValueError, IndexError) as exc:
            log.warning("client %s broke the protocol: %s", self.client_id, exc)
        finally:
            self.close()

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.writer.close()

    def send(self, *fields: Field) -> None:
        if not self.writer.is_closing():
            self.writer.write(encode(*fields))

    def error(self, req_id: int, code: int, text: str) -> None:
        # Server version 166 added the JSON of an advanced order rejection; empty when there is none.
        extra: tuple[Field, ...] = ("",) if self.server_version >= 166 else ()
        self.send(OUT_ERROR, 2, req_id, code, text, *extra)

    def _receive(self, fields: list[str], arrived: float) -> None:
        kind = int(fields[0]) if fields and fields[0].isdigit() else -1
        if self.client_id is None and kind != IN_START_API:
            raise ProtocolError(f"message {kind} before startApi")
        if self._over_pace(arrived):
            req_id = int(fields[1]) if kind == IN_PLACE_ORDER else -1
            text = f"Max rate of messages per second has been exceeded:max={self.gateway.pacing_limit}"
            self.error(req_id, 100, f"{text} rec={len(self._recent)}")
            return
        handler = self._handlers.get(kind)
        if handler is None:
            log.debug("client %s: unhandled message %s", self.client_id, fields[:2])
            return
        handler(fields)

    def _over_pace(self, arrived: float) -> bool:
        """IB's rule: at most `pacing_limit` messages in any second, counted as they arrive; the excess is
        refused with error 100."""
        while self._recent and arrived - self._recent[0] >= 1.0:
            self._recent.popleft()
        self._recent.append(arrived)
        return len(self._recent) > self.gateway.pacing_limit

    async def _handshake(self) -> None:
        low, high, _options = await read_greeting(self.reader)
        if high < SERVER_VERSION_MIN or low > SERVER_VERSION_MAX:
            raise ProtocolError(f"no common server version with v{low}..{high}")
        self.server_version = min(high, SERVER_VERSION_MAX)
        connected_at = self.gateway.clock().strftime("%Y%m%d %H:%M:%S UTC")
        self.send(self.server_version, connected_at)
        await self.writer.drain()

    def _start_api(self, fields: list[str]) -> None:
        client_id = int(fields[2])
        if not self.gateway.claim_client_id(client_id, self):
            self.error(-1, 326, "Unable to connect as the client id is already in use. Retry with a unique client id.")
            raise ConnectionError("client id in use")
        self.client_id = client_id
        self.send(OUT_NEXT_VALID_ID, 1, self.gateway.next_order_id)
        self.send(OUT_MANAGED_ACCOUNTS, 1, self.gateway.account.code)
        for code, text in FARMS_OK:
            self.error(-1, code, text)

    # ---- contracts and market data

    def _req_contract_data(self, fields: list[str]) -> None:
        reader = FieldReader(fields, start=2)
        req_id = reader.integer()
        query = ContractQuery.read(reader)
        listing = self.gateway.catalog.match(query)
        if listing is None:
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        exchange = query.exchange or "SMART"
        self.send(*messages.contract_details(req_id, listing, exchange, self.server_version))
        self.send(OUT_CONTRACT_DATA_END, 1, req_id)

    def _req_market_data_type(self, fields: list[str]) -> None:
        self.market_data_type = int(fields[2])

    def _req_mkt_data(self, fields: list[str]) -> None:
        reader = FieldReader(fields, start=2)
        req_id = reader.integer()
        query = ContractQuery.read(reader)
        if query.sec_type == "BAG":
            reader.skip(4 * reader.integer())
        if reader.flag():
            reader.skip(3)  # delta neutral contract
        reader.skip(1)  # generic tick list
        snapshot = reader.flag()
        listing = self.gateway.catalog.match(query)
        if listing is None:
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        data_type = self.market_data_type
        if not ticks.is_delayed(data_type) and not self.gateway.market_data_subscribed:
            self.error(req_id, *NOT_SUBSCRIBED)
            return
        quote = self.gateway.market.quote(listing.con_id)
        self.send(ticks.OUT_MARKET_DATA_TYPE, 1, req_id, data_type)
        self.send(ticks.OUT_TICK_REQ_PARAMS, req_id, messages.number(listing.min_tick), "9c0001", 3)
        self._send_ticks(req_id, quote, ticks.ALL_FIELDS, data_type)
        self.send(*ticks.halted_message(req_id, quote.halted))
        if snapshot:
            self.send(ticks.OUT_TICK_SNAPSHOT_END, 1, req_id)
        else:
            self.market_data[req_id] = (listing.con_id, data_type)

    def _cancel_mkt_data(self, fields: list[str]) -> None:
        self.market_data.pop(int(fields[2]), None)

    def quote_changed(self, quote: Quote) -> None:
        for req_id, (con_id, data_type) in self.market_data.items():
            if con_id == quote.listing.con_id:
                self._send_ticks(req_id, quote, quote.changed, data_type)

    def halted_changed(self, quote: Quote) -> None:
        for req_id, (con_id, _data_type) in self.market_data.items():
            if con_id == quote.listing.con_id:
                self.send(*ticks.halted_message(req_id, quote.halted))

    def _send_ticks(self, req_id: int, quote: Quote, fields: frozenset[str] | set[str], data_type: int) -> None:
        timestamp = int(self.gateway.clock().timestamp())
        for message in ticks.tick_messages(req_id, quote, fields, data_type, timestamp):
            self.send(*message)

    # ---- orders and executions

    def _place_order(self, fields: list[str]) -> None:
        self.gateway.desk.place(self._client, OrderTicket.read(fields, self.server_version))
        self.gateway.publish()

    def order_changed(self, order: SimOrder, *, with_open_order: bool) -> None:
        if with_open_order:
            self.send(*order_messages.open_order(order, self.server_version))
        self.send(*order_messages.order_status(order))

    def what_if(self, order: SimOrder, figures: tuple[str, ...]) -> None:
        self.send(*order_messages.open_order(order, self.server_version, what_if=figures))

    def executed(self, req_id: int, fill: Execution) -> None:
        self.send(*messages.execution(req_id, fill, self.server_version))

    def commission_reported(self, fill: Execution) -> None:
        self.send(*messages.commission_report(fill))

    def account_changed(self, con_id: int) -> None:
        self.reports.account_changed(con_id)

    def _req_open_orders(self, *, everyone: bool) -> None:
        for order in self.gateway.desk.orders.values():
            if order.is_open and (everyone or order.client_id == self.client_id):
                self.order_changed(order, with_open_order=True)
        self.send(OUT_OPEN_ORDER_END, 1)

    def _req_completed_orders(self, _fields: list[str]) -> None:
        for order in self.gateway.desk.orders.values():
            if not order.is_open:
                self.send(*order_messages.completed_order(order, self.server_version))
        self.send(OUT_COMPLETED_ORDERS_END)

    def _req_executions(self, fields: list[str]) -> None:
        reader = FieldReader(fields, start=2)
        req_id, client_id, account = reader.integer(), reader.integer(), reader.text()
        since, symbol, sec_type, exchange, side = (reader.text() for _ in range(5))
        for fill in self.gateway.desk.executions:
            order = fill.order
            if (
                (not client_id or client_id == order.client_id)
                and (not account or account == order.account)
                and (not since or messages.ib_time(fill.time) >= _normalized_time(since))
                and (not symbol or symbol == order.listing.symbol)
                and (sec_type in ("", "STK"))
                and (not exchange or exchange in (*order.listing.exchanges,))
                and (not side or side == order.action or side == ("BOT" if order.action == "BUY" else "SLD"))
            ):
                self.executed(req_id, fill)
                self.commission_reported(fill)
        self.send(OUT_EXEC_DETAILS_END, 1, req_id)


def _normalized_time(text: str) -> str:
    """An execution filter's "yyyymmdd hh:mm:ss" (maybe "yyyymmdd-hh:mm:ss", maybe with a zone) in UTC form."""
    return text.replace("-", " ")[:17] + " UTC"
