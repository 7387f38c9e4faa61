"""Prometheus metrics of the core and the ingester, named once here.

Counters and histograms are counted where the work happens (a chat turn, a handoff, an email's outcome). What is
a state of the database (the work queue's depth and longest wait per channel, `work.queue.QueueMetrics`) is read
when `/metrics` is scraped, so every web worker reports the same truth and nothing drifts.

Several processes on one host (web workers, ingesters, the escalator) share their figures through
prometheus-client's multiprocess mode: start every process with the same empty `PROMETHEUS_MULTIPROC_DIR` (the
library reads it when it is imported) and any web worker's `/metrics` reports them all. Without it each process
reports only its own.
"""

from __future__ import annotations

import os

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.registry import Collector

# Chat turns are judged against 250 ms (p95) and 500 ms under load: buckets dense there, sparse beyond.
TURN_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0, 10.0, 30.0)

CHAT_TURNS = Counter(
    "civicdesk_chat_turns_total",
    "Residents' chat messages the assistant handled, by outcome (answered, handoff, assistant_failed)",
    ["outcome"],
)
CHAT_TURN_SECONDS = Histogram(
    "civicdesk_chat_turn_seconds",
    "From a resident's chat message to the assistant's answer stored and ready to send",
    buckets=TURN_BUCKETS,
)
RASA_CALL_SECONDS = Histogram(
    "civicdesk_rasa_call_seconds", "Time of one call to a Rasa server's REST webhook", buckets=TURN_BUCKETS
)
RASA_ERRORS = Counter(
    "civicdesk_rasa_errors_total",
    "Calls to Rasa that failed, by kind (timeout, http, unreachable, bad_answer)",
    ["kind"],
)
HANDOFFS = Counter("civicdesk_handoffs_total", "Chats queued for an agent, by reason", ["reason"])
SLA_BREACHES = Counter(
    "civicdesk_sla_breaches_total",
    "Work-queue items escalated for passing their service level, by channel",
    ["channel"],
)
EMAILS = Counter(
    "civicdesk_emails_total",
    "Emails the ingester finished, by outcome (routed, needs_human, quarantined, bounce, duplicate)",
    ["outcome"],
)
INGEST_LAG_SECONDS = Gauge(
    "civicdesk_ingest_lag_seconds",
    "Age of the oldest message the ingester has still to store (0 when the mailbox is drained)",
    multiprocess_mode="livemax",
)


def process_registry() -> CollectorRegistry:
    """What this host's processes counted: every process's files in multiprocess mode, else this process's own."""
    if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


def exposition(*state: Collector) -> bytes:
    """The text a scrape gets: the counted figures, then the `state` collectors' (read at this scrape)."""
    text = generate_latest(process_registry())
    if state:
        now = CollectorRegistry(auto_describe=False)
        for collector in state:
            now.register(collector)
        text += generate_latest(now)
    return text
