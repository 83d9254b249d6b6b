"""The platform's Prometheus metrics, one registry per process (each process is scraped at /metrics, see
omnibot/http_site.py). Counters only ever grow (rates come from PromQL's rate()); gauges are set where the fact
is known. Labels are few and bounded: no user, order or symbol ids (their cardinality has no end)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)
FAST = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

ORDERS = Counter("omnibot_orders", "Orders placed by investors and the platform", ["side"], registry=REGISTRY)
ORDERS_ENDED = Counter("omnibot_orders_ended", "Blocks that ended other than filled", ["status"], registry=REGISTRY)
FILLS = Counter("omnibot_fills", "IB executions booked into the ledger", registry=REGISTRY)
UPDATE_SECONDS = Histogram(
    "omnibot_update_seconds", "Time to handle a Telegram update, by command family", ["handler"],
    buckets=FAST, registry=REGISTRY,
)  # fmt: skip
IB_ACK_SECONDS = Histogram(
    "omnibot_ib_ack_seconds", "From sending an order to IB to IB's acknowledgement", buckets=FAST, registry=REGISTRY
)
FILL_BOOK_SECONDS = Histogram(
    "omnibot_fill_book_seconds", "Time to book one execution (its transaction)", buckets=FAST, registry=REGISTRY
)
IB_STATE = Enum(
    "omnibot_ib_connection", "The IB connection, in the process that holds it",
    states=["disconnected", "connecting", "recovering", "ready", "ib_unreachable"], registry=REGISTRY,
)  # fmt: skip
IB_PACING = Gauge("omnibot_ib_pacing", "1 while IB messages are held back to stay under IB's rate", registry=REGISTRY)
IB_MESSAGES = Gauge(
    "omnibot_ib_messages_per_second", "IB API messages a second over the last minute", ["direction"], registry=REGISTRY
)
LEADING = Gauge("omnibot_broker_leader", "1 while this process holds the IB connection", registry=REGISTRY)
OUTBOX_DEPTH = Gauge("omnibot_outbox_depth", "Notifications waiting to be sent", registry=REGISTRY)
NOTIFICATIONS = Counter(
    "omnibot_notifications", "Notifications handled by this process, by outcome", ["outcome"], registry=REGISTRY
)
RECONCILIATION_BREAKS = Gauge(
    "omnibot_reconciliation_breaks", "Breaks open after the last reconciliation", registry=REGISTRY
)
