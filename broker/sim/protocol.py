"""The TWS API wire format.

After the client's greeting (`API\\0` and a length-prefixed "vMIN..MAX" version range), every message in either
direction is a 4-byte big-endian length followed by that many bytes: text fields, each ended by a NUL byte. The
first field of a message is its numeric type; most types carry a version number next.
"""

from __future__ import annotations

import asyncio
import re
import struct
import time
from collections import deque

GREETING = b"API\0"
SERVER_VERSION_MIN = 157  # the range a client may negotiate with this simulator
SERVER_VERSION_MAX = 178
MAX_MESSAGE = 16 * 1024 * 1024
_RANGE = re.compile(rb"v(\d+)(?:\.\.(\d+))?")

Field = str | int | float | bool | None


class ProtocolError(Exception):
    """The peer broke the protocol; the connection is closed."""


class Arrivals:
    """When the bytes of a client's stream came off the socket. The reader is fed as data arrives, which may be
    well before the session gets round to reading a message (its task waits its turn in the event loop); IB
    times its pacing by arrival, and so does the simulator."""

    def __init__(self, reader: asyncio.StreamReader) -> None:
        self._reader = reader
        self._fed = len(self._buffer())  # already there when the connection was handed over
        self._chunks: deque[tuple[int, float]] = deque([(self._fed, time.monotonic())])  # (end offset, when)
        feed = reader.feed_data

        def timed(data: bytes) -> None:
            self._fed += len(data)
            self._chunks.append((self._fed, time.monotonic()))
            feed(data)

        reader.feed_data = timed  # type: ignore[method-assign,assignment]

    def last_read(self) -> float:
        """When the last byte read so far arrived."""
        read = self._fed - len(self._buffer())
        while len(self._chunks) > 1 and self._chunks[0][0] < read:
            self._chunks.popleft()
        return self._chunks[0][1]

    def _buffer(self) -> bytearray:
        # asyncio.StreamReader keeps what it has received and not yet handed out in `_buffer`; the simulator
        # reads it only to know how far the session has read.
        buffered: bytearray = self._reader._buffer  # type: ignore[attr-defined]
        return buffered


def encode(*fields: Field) -> bytes:
    """One message: each field as text (booleans as 1/0, None as empty) ended by NUL, behind its length."""
    body = b"".join(_text(field).encode() + b"\0" for field in fields)
    return struct.pack(">I", len(body)) + body


def _text(field: Field) -> str:
    if field is None:
        return ""
    if isinstance(field, bool):
        return "1" if field else "0"
    return str(field)


async def read_message(reader: asyncio.StreamReader) -> list[str]:
    """The fields of the next message (without the empty field after the last NUL)."""
    size = struct.unpack(">I", await reader.readexactly(4))[0]
    if size > MAX_MESSAGE:
        raise ProtocolError(f"message of {size} bytes")
    fields = (await reader.readexactly(size)).decode(errors="replace").split("\0")
    return fields[:-1] if fields and fields[-1] == "" else fields


async def read_greeting(reader: asyncio.StreamReader) -> tuple[int, int, str]:
    """The client's supported versions (lowest, highest) and its connect options."""
    if await reader.readexactly(len(GREETING)) != GREETING:
        raise ProtocolError("the client did not greet with API\\0")
    size = struct.unpack(">I", await reader.readexactly(4))[0]
    if size > 1024:
        raise ProtocolError("greeting too long")
    text = await reader.readexactly(size)
    match = _RANGE.match(text)
    if match is None:
        raise ProtocolError(f"unreadable version range {text!r}")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    return low, high, text[match.end() :].decode(errors="replace").strip()


class FieldReader:
    """Reads a client message field by field, in the order the client wrote them."""

    def __init__(self, fields: list[str], start: int = 1) -> None:
        self._fields = fields
        self._at = start

    def text(self) -> str:
        if self._at >= len(self._fields):
            raise ProtocolError(f"message {self._fields[:1]} ended after {self._at} fields")
        value = self._fields[self._at]
        self._at += 1
        return value

    def integer(self, default: int = 0) -> int:
        value = self.text()
        return int(value) if value else default

    def flag(self) -> bool:
        return self.text() not in ("", "0", "false", "False")

    def skip(self, count: int) -> None:
        for _ in range(count):
            self.text()
