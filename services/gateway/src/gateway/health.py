"""The /health report (the seed's shape plus the bus and every service's liveness)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts.health import is_fresh


def provider_state(api_key: str | None, offline_name: str) -> str:
    return "configured" if api_key else f"offline default ({offline_name})"


# `make run`'s launcher beats the embedded room server's state (it speaks no NATS) under this name.
ROOM_SERVER = "room-server"


def livekit_state(livekit_url: str | None, beats: dict[str, dict[str, Any]], now: datetime) -> tuple[str, bool]:
    """What /health says of LiveKit, and whether that is well: an embedded room server's state when the
    launcher reports one; a LiveKit server or Cloud is not probed."""
    if not livekit_url:
        return "not configured (chat only)", True
    beat = beats.get(ROOM_SERVER)
    if beat is None:
        return "configured", True
    state = str(beat.get("details", {}).get("state", "up")) if is_fresh(beat, now) else "not reported"
    return f"configured (embedded room server: {state})", state == "up"


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
    livekit, livekit_ok = livekit_state(livekit_url, beats, now)
    healthy = database_ok and nats_ok and livekit_ok and all(s["status"] == "up" for s in services.values())
    body = {
        "status": "healthy" if healthy else "degraded",
        "database": "connected" if database_ok else "unreachable",
        "nats": "connected" if nats_ok else "unreachable",
        "livekit": livekit,
        "ai_services": {
            "gemini": provider_state(gemini_api_key, "local dialogue engine"),
            "groq": provider_state(groq_api_key, "local summariser"),
        },
        "services": services,
    }
    return (200 if healthy else 503), body
