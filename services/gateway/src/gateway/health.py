"""The /health report: the platform's status, the bus, and every service's liveness.

What each AI feature runs on is what the service doing it says in its heartbeat (its health details),
not what the gateway guesses from its own environment: a key set on the gateway says nothing about
the agent-worker that would use it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.health import is_fresh

# (service, its health detail, the name the report gives it)
AI_DETAILS = (
    ("agent-worker", "brain", "dialogue"),
    ("agent-worker", "speech_to_text", "speech to text"),
    ("agent-worker", "text_to_speech", "text to speech"),
    ("sentiment", "model", "sentiment"),
    ("sentiment", "satisfaction", "satisfaction"),
    ("postprocess", "summariser", "summary"),
)
ROOMS_DETAIL = ("call-router", "livekit")


def detail(beats: dict[str, dict[str, Any]], service: str, name: str) -> str:
    beat = beats.get(service)
    if beat is None:
        return f"unknown ({service} not running)"
    return str(beat.get("details", {}).get(name, "not reported"))


def health_report(
    *,
    database_ok: bool,
    nats_ok: bool,
    beats: dict[str, dict[str, Any]],
    expected_services: tuple[str, ...],
    now: datetime,
) -> tuple[int, dict[str, Any]]:
    """Return (HTTP status, body): 200 when everything the platform needs is up, else 503."""
    services = {}
    for name in expected_services:
        beat = beats.get(name)
        if beat is None:
            services[name] = {"status": "down", "last_seen": None}
        else:
            services[name] = {"status": "up" if is_fresh(beat, now) else "stale",
                              "last_seen": beat["at"], **beat.get("details", {})}
    healthy = database_ok and nats_ok and all(s["status"] == "up" for s in services.values())
    body = {
        "status": "healthy" if healthy else "degraded",
        "database": "connected" if database_ok else "unreachable",
        "nats": "connected" if nats_ok else "unreachable",
        "livekit": detail(beats, *ROOMS_DETAIL),
        "ai_services": {label: detail(beats, service, name) for service, name, label in AI_DETAILS},
        "services": services,
    }
    return (200 if healthy else 503), body
