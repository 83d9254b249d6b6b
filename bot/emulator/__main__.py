"""python -m bot.emulator [--port 8088] [--token TOKEN] [--chat-burst 5]: the emulator alone, until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .server import Emulator
from .world import CHAT_BURST


async def serve(port: int, token: str, chat_burst: float) -> None:
    emulator = Emulator(token, chat_burst=chat_burst)
    await emulator.start("127.0.0.1", port)
    print(f"Bot API emulator: {emulator.base_url}<token>/..., chat page at {emulator.url}/", flush=True)
    try:
        await asyncio.Event().wait()
    finally:
        await emulator.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8088)
    parser.add_argument("--token", default="123456:EMULATOR")
    parser.add_argument("--chat-burst", type=float, default=CHAT_BURST, help="messages to one chat at once")
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.token, args.chat_burst))


if __name__ == "__main__":
    main()
