"""The /health report: the platform's status, the bus, and every service's liveness.

What each AI feature runs on is what the service doing it says in its heartbeat (its health details),
not what the gateway guesses from its own environment: a key set on the gateway says nothing about
the agent-worker that would use it. A service may run as several instances, each beating on its own:
the service is up while every instance it has beats, and the report lists them.
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


Beats = dict[str, dict[str, dict[str, Any]]]  # by service, then instance (contracts.health.read_beats)


def latest(beats: Beats, service: str) -> dict[str, Any] | None:
    """The service's newest beat, from whichever instance."""
    return max(beats.get(service, {}).values(), key=lambda beat: beat["at"], default=None)


def detail(beats: Beats, service: str, name: str) -> str:
    beat = latest(beats, service)
    if beat is None:
        return f"unknown ({service} not running)"
    return str(beat.get("details", {}).get(name, "not reported"))


# `make run`'s launcher beats the embedded room server's state (it speaks no NATS) under this name.
ROOM_SERVER = "room-server"


def livekit_state(beats: Beats, now: datetime) -> tuple[str, bool]:
    """What /health says of LiveKit (as the call-router, which opens the rooms, reports it), and whether
    that is well: with an embedded room server's state when the launcher reports one; a LiveKit server
    or Cloud is not probed."""
    configured = detail(beats, *ROOMS_DETAIL)
    beat = latest(beats, ROOM_SERVER)
    if beat is None:
        return configured, True
    state = str(beat.get("details", {}).get("state", "up")) if is_fresh(beat, now) else "not reported"
    return f"{configured} (embedded room server: {state})", state == "up"


def health_report(
    *,
    database_ok: bool,
    nats_ok: bool,
    beats: Beats,
    expected_services: tuple[str, ...],
    now: datetime,
) -> tuple[int, dict[str, Any]]:
    """Return (HTTP status, body): 200 when everything the platform needs is up, else 503."""
    services = {}
    for name in expected_services:
        beat = latest(beats, name)
        if beat is None:
            services[name] = {"status": "down", "last_seen": None}
            continue
        instances = {instance: {"status": "up" if is_fresh(each, now) else "stale", "last_seen": each["at"],
                                "pid": each.get("pid")}
                     for instance, each in sorted(beats[name].items())}
        services[name] = {"status": "up" if all(i["status"] == "up" for i in instances.values()) else "stale",
                          "last_seen": beat["at"], **beat.get("details", {}), "instances": instances}
    livekit, livekit_ok = livekit_state(beats, now)
    healthy = database_ok and nats_ok and livekit_ok and all(s["status"] == "up" for s in services.values())
    body = {
        "status": "healthy" if healthy else "degraded",
        "database": "connected" if database_ok else "unreachable",
        "nats": "connected" if nats_ok else "unreachable",
        "livekit": livekit,
        "ai_services": {label: detail(beats, service, name) for service, name, label in AI_DETAILS},
        "services": services,
    }
    return (200 if healthy else 503), body
