"""One API client's connection: the handshake, then requests answered in the order a real gateway answers them."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from .protocol import (
    SERVER_VERSION_MAX,
    SERVER_VERSION_MIN,
    Field,
    ProtocolError,
    encode,
    read_greeting,
    read_message,
)

if TYPE_CHECKING:
    from .gateway import GatewaySimulator

log = logging.getLogger("ibsim")

# Message types, as numbered by the TWS API.
IN_REQ_OPEN_ORDERS, IN_REQ_ACCOUNT_UPDATES, IN_REQ_EXECUTIONS, IN_REQ_IDS = 5, 6, 7, 8
IN_REQ_AUTO_OPEN_ORDERS, IN_REQ_ALL_OPEN_ORDERS, IN_REQ_MANAGED_ACCOUNTS = 15, 16, 17
IN_REQ_CURRENT_TIME, IN_REQ_POSITIONS, IN_START_API = 49, 61, 71
IN_REQ_ACCOUNT_UPDATES_MULTI, IN_REQ_COMPLETED_ORDERS = 76, 99

OUT_ERROR, OUT_ACCOUNT_VALUE, OUT_ACCOUNT_TIME, OUT_NEXT_VALID_ID = 4, 6, 8, 9
OUT_MANAGED_ACCOUNTS, OUT_CURRENT_TIME, OUT_OPEN_ORDER_END, OUT_ACCOUNT_DOWNLOAD_END = 15, 49, 53, 54
OUT_EXEC_DETAILS_END, OUT_POSITION_END, OUT_ACCOUNT_UPDATE_MULTI, OUT_ACCOUNT_UPDATE_MULTI_END = 55, 62, 73, 74
OUT_COMPLETED_ORDERS_END = 102

FARMS_OK = (
    (2104, "Market data farm connection is OK:usfarm"),
    (2106, "HMDS data farm connection is OK:ushmds"),
    (2158, "Sec-def data farm connection is OK:secdefnj"),
)


class ClientSession:
    def __init__(self, gateway: GatewaySimulator, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.gateway = gateway
        self.reader = reader
        self.writer = writer
        self.server_version = 0
        self.client_id: int | None = None
        self._handlers: dict[int, Callable[[list[str]], Awaitable[None]]] = {
            IN_START_API: self._start_api,
            IN_REQ_IDS: self._req_ids,
            IN_REQ_MANAGED_ACCOUNTS: self._req_managed_accounts,
            IN_REQ_CURRENT_TIME: self._req_current_time,
            IN_REQ_POSITIONS: self._req_positions,
            IN_REQ_OPEN_ORDERS: self._req_open_orders,
            IN_REQ_ALL_OPEN_ORDERS: self._req_open_orders,
            IN_REQ_AUTO_OPEN_ORDERS: self._ignore,
            IN_REQ_COMPLETED_ORDERS: self._req_completed_orders,
            IN_REQ_ACCOUNT_UPDATES: self._req_account_updates,
            IN_REQ_ACCOUNT_UPDATES_MULTI: self._req_account_updates_multi,
            IN_REQ_EXECUTIONS: self._req_executions,
        }

    async def run(self) -> None:
        try:
            await self._handshake()
            while True:
                fields = await read_message(self.reader)
                handler = self._handlers.get(int(fields[0])) if fields and fields[0].isdigit() else None
                if handler is None:
                    log.debug("client %s: unhandled message %s", self.client_id, fields[:2])
                    continue
                await handler(fields)
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
        self.writer.write(encode(*fields))

    def error(self, req_id: int, code: int, text: str) -> None:
        # Server version 166 added the JSON of an advanced order rejection; empty when there is none.
        extra: tuple[Field, ...] = ("",) if self.server_version >= 166 else ()
        self.send(OUT_ERROR, 2, req_id, code, text, *extra)

    async def _handshake(self) -> None:
        low, high, _options = await read_greeting(self.reader)
        if high < SERVER_VERSION_MIN or low > SERVER_VERSION_MAX:
            raise ProtocolError(f"no common server version with v{low}..{high}")
        self.server_version = min(high, SERVER_VERSION_MAX)
        connected_at = self.gateway.clock().strftime("%Y%m%d %H:%M:%S UTC")
        self.send(self.server_version, connected_at)
        await self.writer.drain()

    async def _start_api(self, fields: list[str]) -> None:
        client_id = int(fields[2])
        if not self.gateway.claim_client_id(client_id, self):
            self.error(-1, 326, "Unable to connect as the client id is already in use. Retry with a unique client id.")
            await self.writer.drain()
            raise ConnectionError("client id in use")
        self.client_id = client_id
        self.send(OUT_NEXT_VALID_ID, 1, self.gateway.next_order_id)
        self.send(OUT_MANAGED_ACCOUNTS, 1, self.gateway.account)
        for code, text in FARMS_OK:
            self.error(-1, code, text)

    async def _req_ids(self, _fields: list[str]) -> None:
        self.send(OUT_NEXT_VALID_ID, 1, self.gateway.next_order_id)

    async def _req_managed_accounts(self, _fields: list[str]) -> None:
        self.send(OUT_MANAGED_ACCOUNTS, 1, self.gateway.account)

    async def _req_current_time(self, _fields: list[str]) -> None:
        self.send(OUT_CURRENT_TIME, 1, int(self.gateway.clock().timestamp()))

    async def _req_positions(self, _fields: list[str]) -> None:
        self.send(OUT_POSITION_END, 1)

    async def _req_open_orders(self, _fields: list[str]) -> None:
        self.send(OUT_OPEN_ORDER_END, 1)

    async def _req_completed_orders(self, _fields: list[str]) -> None:
        self.send(OUT_COMPLETED_ORDERS_END)

    async def _req_executions(self, fields: list[str]) -> None:
        self.send(OUT_EXEC_DETAILS_END, 1, int(fields[2]))

    async def _req_account_updates(self, fields: list[str]) -> None:
        if fields[2] not in ("1", "True", "true"):
            return  # unsubscribe
        account = self.gateway.account
        for key, value, currency in self.gateway.account_values():
            self.send(OUT_ACCOUNT_VALUE, 2, key, value, currency, account)
        self.send(OUT_ACCOUNT_TIME, 1, self.gateway.clock().strftime("%H:%M"))
        self.send(OUT_ACCOUNT_DOWNLOAD_END, 1, account)

    async def _req_account_updates_multi(self, fields: list[str]) -> None:
        req_id, account, model = int(fields[2]), fields[3] or self.gateway.account, fields[4]
        for key, value, currency in self.gateway.account_values():
            self.send(OUT_ACCOUNT_UPDATE_MULTI, 1, req_id, account, model, key, value, currency)
        self.send(OUT_ACCOUNT_UPDATE_MULTI_END, 1, req_id)

    async def _ignore(self, _fields: list[str]) -> None:
        return None
