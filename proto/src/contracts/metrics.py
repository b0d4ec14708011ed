"""Prometheus metrics every bus service exposes (the gateway adds its own on /metrics).

Each service serves them on ``<PREFIX>_METRICS_PORT`` when set (make run and the compose file set
one per service): events handled per consumer and type and how each ended, handler latency, and the
calls the service holds live. How far each durable consumer lags is on the gateway's /metrics.
"""

from __future__ import annotations

import logging

from prometheus_client import Counter, Gauge, Histogram, start_http_server

log = logging.getLogger("contracts.metrics")

EVENTS = Counter("bus_events_total", "Events a consumer took, by how it ended", ["consumer", "type", "outcome"])
HANDLER_SECONDS = Histogram("bus_handler_seconds", "How long a consumer's handler took", ["consumer", "type"],
                            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
LIVE_CALLS = Gauge("service_live_calls", "Calls this service holds state for now", ["service"])


def serve_metrics(port: int, host: str) -> None:
    """Serve the process's metrics over HTTP (a thread of prometheus_client's). A port already taken
    costs the metrics, not the service."""
    try:
        start_http_server(port, addr=host)
    except OSError as exc:
        log.error("metrics not served: %s:%d is not available (%s)", host, port, exc)
