"""Omnibot processes for the scale-out tests: `omnibot run --role ...` started as real subprocesses on one
PostgreSQL database, each with its own log file (shown when a test fails), killed at the end of the test."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from core.crypto import generate_key


@dataclass
class Processes:
    folder: Path
    env: dict[str, str] = field(default_factory=dict)
    running: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: dict[int, int] = field(default_factory=dict)  # pid -> its HTTP site's port

    def start(self, role: str, **env: str) -> subprocess.Popen[bytes]:
        """`omnibot run --role ROLE` with the shared settings and these (its HTTP site on a port of its own,
        unless given: `port_of` names it)."""
        env = {"OMNIBOT_HTTP_PORT": str(free_port())} | env
        clean = {key: value for key, value in os.environ.items() if not key.startswith("OMNIBOT_")}
        log = (self.folder / f"{role}-{len(self.running)}.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "omnibot.cli", "run", "--role", role],
            env=clean | self.env | env | {"PYTHONPATH": str(Path(__file__).parents[2])},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.running.append(process)
        self.ports[process.pid] = int(env["OMNIBOT_HTTP_PORT"])
        return process

    def port_of(self, process: subprocess.Popen[bytes]) -> int:
        return self.ports[process.pid]

    def logs(self) -> str:
        return "\n".join(f"--- {path.name}\n{path.read_text()[-4000:]}" for path in sorted(self.folder.glob("*.log")))

    def stop_all(self) -> None:
        for process in self.running:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.running:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    keys = {"OMNIBOT_ENCRYPTION_KEYS": f"k1:{generate_key()}", "OMNIBOT_BLIND_INDEX_KEY": generate_key()}
    found = Processes(tmp_path, keys)
    yield found
    found.stop_all()
    print(found.logs())  # pytest shows it only when the test failed


class RoundRobin:
    """The load balancer in front of several bot processes: each request goes to the next backend in turn
    (one that does not answer is skipped, as a balancer's health check would)."""

    def __init__(self, backends: list[str]) -> None:
        self.backends = backends
        self.forwarded: Counter[str] = Counter()
        self._next = 0
        self._runner: web.AppRunner | None = None

    async def start(self) -> str:
        app = web.Application()
        app.add_routes([web.post("/{path:.*}", self._forward)])
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        port = free_port()
        await web.TCPSite(self._runner, "127.0.0.1", port).start()
        return f"http://127.0.0.1:{port}"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _forward(self, request: web.Request) -> web.Response:
        body, headers = await request.read(), {k: v for k, v in request.headers.items() if k.lower() != "host"}
        async with aiohttp.ClientSession() as http:
            for _ in self.backends:
                backend = self.backends[self._next % len(self.backends)]
                self._next += 1
                try:
                    async with http.post(f"{backend}{request.path}", data=body, headers=headers) as answer:
                        self.forwarded[backend] += 1
                        return web.Response(status=answer.status, body=await answer.read())
                except aiohttp.ClientError:
                    continue
        return web.Response(status=502, text="no backend answered")
