"""The /health report: the platform's status, the bus, and every service's liveness."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.health import is_fresh


def provider_state(api_key: str | None, offline_name: str) -> str:
    return "configured" if api_key else f"offline default ({offline_name})"


def health_report(
    *,
    database_ok: bool,
    nats_ok: bool,
    beats: dict[str, dict[str, Any]],
    expected_services: tuple[str, ...],
    livekit_url: str | None,
    gemini_api_key: str | None,
    groq_api_key: str | None,
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
        "livekit": "configured" if livekit_url else "not configured (chat only)",
        "ai_services": {
            "gemini": provider_state(gemini_api_key, "local dialogue engine"),
            "groq": provider_state(groq_api_key, "local summariser"),
        },
        "services": services,
    }
    return (200 if healthy else 503), body
