"""Prometheus metrics: request latency, open SSE streams, and how far each bus consumer lags."""

from __future__ import annotations

from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

from contracts.bus import Bus


@dataclass
class Metrics:
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)

    def __post_init__(self) -> None:
        self.request_seconds = Histogram(
            "gateway_request_seconds", "HTTP request latency", ["method", "route", "status"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5))
        self.sse_connections = Gauge("gateway_sse_connections", "Open SSE streams", ["kind"], registry=self.registry)
        self.bus_pending = Gauge("bus_consumer_pending_messages", "Messages a durable consumer has not yet received",
                                 ["consumer"], registry=self.registry)
        self.bus_ack_pending = Gauge("bus_consumer_unacked_messages", "Messages delivered but not yet acknowledged",
                                     ["consumer"], registry=self.registry)

    async def render(self, bus: Bus) -> bytes:
        """Read the consumers' lag at scrape time, then render everything."""
        self.bus_pending.clear()
        self.bus_ack_pending.clear()
        for lag in await bus.consumer_lag():
            self.bus_pending.labels(lag.consumer).set(lag.pending)
            self.bus_ack_pending.labels(lag.consumer).set(lag.unacked)
        return generate_latest(self.registry)
