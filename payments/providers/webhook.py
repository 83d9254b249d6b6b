"""The webhook endpoint (aiohttp) where a bank or provider tells of incoming transfers and payouts.

A request carries `X-Omnibot-Timestamp` (Unix seconds) and `X-Omnibot-Signature`: the hex HMAC-SHA256, under
the shared secret, of the timestamp, a dot and the raw body. It is refused (401) when the signature does not
match (compared in constant time) or the timestamp is more than the tolerance (300 s) away from now; a body
that is not a known event is refused (400). An event is applied once: a replay answers 200 and changes nothing.

    {"id": "evt_1", "type": "transfer.received", "tx_id": "...", "amount": "250.00", "reference": "OM..."}
    {"id": "evt_2", "type": "payout.settled", "provider_ref": "..."}
    {"id": "evt_3", "type": "payout.failed" | "payout.returned", "provider_ref": "...", "reason": "..."}
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation

from aiohttp import web

from core.clock import Clock

from .base import EVENT_KINDS, ProviderEvent

TIMESTAMP, SIGNATURE = "X-Omnibot-Timestamp", "X-Omnibot-Signature"
Apply = Callable[[str, ProviderEvent], Awaitable[bool]]  # (provider, event) -> applied now (False: a replay)


def sign(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def verified(secret: bytes, headers: dict[str, str], body: bytes, now: datetime, tolerance: float) -> bool:
    try:
        timestamp = int(headers.get(TIMESTAMP, ""))
    except ValueError:
        return False
    if abs(now.timestamp() - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), headers.get(SIGNATURE, ""))


def parse_event(body: bytes) -> ProviderEvent | None:
    try:
        data = json.loads(body)
        kind = data["type"]
        amount = Decimal(str(data["amount"])) if "amount" in data else None
    except (ValueError, KeyError, TypeError, InvalidOperation):
        return None
    if not isinstance(data.get("id"), str) or kind not in EVENT_KINDS:
        return None
    return ProviderEvent(
        data["id"][:100],
        kind,
        str(data.get("provider_ref", ""))[:100],
        str(data.get("tx_id", ""))[:100],
        amount,
        str(data.get("reference", ""))[:140],
        str(data.get("reason", ""))[:200],
    )


def webhook_routes(secrets: dict[str, bytes], apply: Apply, clock: Clock, tolerance: float = 300) -> web.RouteTableDef:
    """POST /payments/{provider}/events for each provider with a secret."""
    routes = web.RouteTableDef()

    @routes.post("/payments/{provider}/events")
    async def events(request: web.Request) -> web.Response:
        provider = request.match_info["provider"]
        secret = secrets.get(provider)
        body = await request.read()
        if secret is None or not verified(secret, dict(request.headers), body, clock.now(), tolerance):
            return web.json_response({"error": "signature"}, status=401)
        event = parse_event(body)
        if event is None:
            return web.json_response({"error": "not an event"}, status=400)
        applied = await apply(provider, event)
        return web.json_response({"ok": True, "replayed": not applied})

    return routes
