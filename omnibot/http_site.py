"""The process's own HTTP site, for the operator's probes, Prometheus and Telegram: /healthz (the process is
alive and its loop turns), /readyz (it can do its job now: the database answers and its role's parts are up;
JSON saying what each check found, 503 when one fails), /metrics (Prometheus text format), and in a bot process
taking updates by webhook, the webhook. It listens on OMNIBOT_HTTP_HOST:OMNIBOT_HTTP_PORT; the load balancer
and Prometheus reach it through the operator's network."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from core.db import Database
from core.metrics import REGISTRY

log = logging.getLogger("omnibot")
Check = Callable[[], Awaitable[tuple[bool, str]]]  # whether it is fine, and what was found
CHECK_SECONDS = 3.0


def database_check(db: Database) -> Check:
    async def check() -> tuple[bool, str]:
        await db.transact(lambda uow: uow.connection.execute(text("SELECT 1")), readonly=True)
        return True, "answers"

    return check


async def start_site(host: str, port: int, checks: dict[str, Check], routes: Sequence[web.RouteDef]) -> web.AppRunner:
    async def healthz(_request: web.Request) -> web.Response:
        return web.json_response({"alive": True})

    async def readyz(_request: web.Request) -> web.Response:
        found = dict(zip(checks, await asyncio.gather(*(_run(check) for check in checks.values())), strict=True))
        ready = all(ok for ok, _detail in found.values())
        body = {"ready": ready, "checks": {name: {"ok": ok, "detail": detail} for name, (ok, detail) in found.items()}}
        return web.Response(text=json.dumps(body), status=200 if ready else 503, content_type="application/json")

    async def metrics(_request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(REGISTRY), headers={"Content-Type": CONTENT_TYPE_LATEST})

    app = web.Application()
    app.add_routes([web.get("/healthz", healthz), web.get("/readyz", readyz), web.get("/metrics", metrics), *routes])
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


async def _run(check: Check) -> tuple[bool, str]:
    try:
        return await asyncio.wait_for(check(), CHECK_SECONDS)
    except TimeoutError:
        return False, f"no answer within {CHECK_SECONDS:g} s"
    except Exception as exc:  # a probe says what failed; it never fails itself
        log.warning("a readiness check failed", exc_info=True)
        return False, f"{type(exc).__name__}"
