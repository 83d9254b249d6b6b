"""Broker facts as JSON, for the processes without the IB connection: contracts and quotes answered through
`broker_requests`, the connection's state in `broker_leader`. Amounts travel as strings, times in ISO 8601."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from .events import BrokerStatus, ConnectionState, Contract, Quote, Traffic

QUOTE_PRICES = ("bid", "ask", "last", "close", "bid_size", "ask_size")


def contract_json(contract: Contract | None) -> dict[str, Any]:
    if contract is None:
        return {"contract": None}
    return {
        "contract": {
            "con_id": contract.con_id,
            "symbol": contract.symbol,
            "primary_exchange": contract.primary_exchange,
            "currency": contract.currency,
            "description": contract.description,
        }
    }


def contract_of(data: dict[str, Any]) -> Contract | None:
    found = data.get("contract")
    return None if found is None else Contract(**found)


def quote_json(quote: Quote) -> dict[str, Any]:
    prices = {name: _text(getattr(quote, name)) for name in QUOTE_PRICES}
    return {"con_id": quote.con_id, **prices, "delayed": quote.delayed, "at": quote.at.isoformat()}


def quote_of(data: dict[str, Any]) -> Quote:
    prices = {name: None if data[name] is None else Decimal(data[name]) for name in QUOTE_PRICES}
    return Quote(con_id=data["con_id"], delayed=data["delayed"], at=datetime.fromisoformat(data["at"]), **prices)


def status_json(status: BrokerStatus) -> dict[str, Any]:
    return {
        "state": status.state.value,
        "last_error": status.last_error,
        "connected_since": status.connected_since.isoformat() if status.connected_since else None,
        "messages_sent": status.messages_sent,
        "sent_per_second": status.traffic.sent_per_second,
        "received_per_second": status.traffic.received_per_second,
        "throttling": status.throttling,
        "orders_in_flight": status.orders_in_flight,
        "round_trip_ms": status.round_trip_ms,
    }


def status_of(data: dict[str, Any]) -> BrokerStatus:
    since = data.get("connected_since")
    return BrokerStatus(
        state=ConnectionState(data.get("state", ConnectionState.DISCONNECTED.value)),
        last_error=data.get("last_error"),
        connected_since=datetime.fromisoformat(since) if since else None,
        messages_sent=data.get("messages_sent", 0),
        traffic=Traffic(data.get("sent_per_second", 0.0), data.get("received_per_second", 0.0)),
        throttling=data.get("throttling", False),
        orders_in_flight=data.get("orders_in_flight", 0),
        round_trip_ms=data.get("round_trip_ms"),
    )


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
