from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.health import health_report

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SERVICES = ("gateway", "call-router")


def beat(age_seconds: float) -> dict[str, object]:
    return {"at": (NOW - timedelta(seconds=age_seconds)).isoformat(), "details": {"brain": "local"}}


def report(**overrides: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    arguments: dict = {"database_ok": True, "nats_ok": True,  # type: ignore[type-arg]
                       "beats": {"gateway": beat(1), "call-router": beat(2)}, "expected_services": SERVICES,
                       "livekit_url": None, "gemini_api_key": None, "groq_api_key": "k", "now": NOW}
    return health_report(**(arguments | overrides))


def test_healthy_when_database_bus_and_every_service_are_up() -> None:
    status, body = report()
    assert status == 200 and body["status"] == "healthy"
    assert body["services"]["call-router"] == {"status": "up", "last_seen": beat(2)["at"], "brain": "local"}
    assert body["ai_services"] == {"gemini": "offline default (local dialogue engine)", "groq": "configured"}
    assert body["livekit"] == "not configured (chat only)"


def test_degraded_with_503_when_a_service_is_missing_or_stale() -> None:
    status, body = report(beats={"gateway": beat(1), "call-router": beat(60)})
    assert status == 503 and body["services"]["call-router"]["status"] == "stale"
    status, body = report(beats={"gateway": beat(1)})
    assert status == 503 and body["services"]["call-router"] == {"status": "down", "last_seen": None}


def test_degraded_when_database_or_bus_is_unreachable() -> None:
    assert report(database_ok=False)[1]["database"] == "unreachable"
    assert report(nats_ok=False)[0] == 503


def test_the_embedded_room_server_state_the_launcher_reports() -> None:
    def room_server(state: str, age: float = 1) -> dict[str, object]:
        return {"at": (NOW - timedelta(seconds=age)).isoformat(), "details": {"state": state}}

    beats = {"gateway": beat(1), "call-router": beat(2)}
    assert report(livekit_url="wss://cloud")[1]["livekit"] == "configured"  # a LiveKit server: not probed
    status, body = report(livekit_url="ws://127.0.0.1:7880", beats=beats | {"room-server": room_server("up")})
    assert status == 200 and body["livekit"] == "configured (embedded room server: up)"
    down = "down (exited with -9); restarting in 1s"
    status, body = report(livekit_url="ws://127.0.0.1:7880", beats=beats | {"room-server": room_server(down)})
    assert status == 503 and body["livekit"] == f"configured (embedded room server: {down})"
    assert report(livekit_url="ws://x", beats=beats | {"room-server": room_server("up", 60)})[0] == 503
