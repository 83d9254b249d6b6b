"""python -m bot.emulator [--port 8088] [--token TOKEN]: the emulator alone, until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib

from .server import Emulator


async def serve(port: int, token: str) -> None:
    emulator = Emulator(token)
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
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port, args.token))


if __name__ == "__main__":
    main()
