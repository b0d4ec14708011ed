from __future__ import annotations

from datetime import UTC, datetime, timedelta

from gateway.health import health_report

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
SERVICES = ("gateway", "call-router")


def beat(age_seconds: float, **details: str) -> dict[str, object]:
    return {"at": (NOW - timedelta(seconds=age_seconds)).isoformat(), "details": details, "pid": 7}


def one(service_beat: dict[str, object]) -> dict[str, dict[str, object]]:
    """A service's beats when it runs as one instance."""
    return {"1": service_beat}


def report(**overrides: object) -> tuple[int, dict]:  # type: ignore[type-arg]
    arguments: dict = {"database_ok": True, "nats_ok": True,  # type: ignore[type-arg]
                       "beats": {"gateway": one(beat(1)),
                                 "call-router": one(beat(2, livekit="not configured (chat only)")),
                                 "agent-worker": one(beat(1, brain="local", speech_to_text="local"))},
                       "expected_services": SERVICES, "now": NOW}
    return health_report(**(arguments | overrides))


def test_healthy_when_database_bus_and_every_service_are_up() -> None:
    status, body = report()
    assert status == 200 and body["status"] == "healthy"
    assert body["services"]["call-router"] == {
        "status": "up", "last_seen": beat(2)["at"], "livekit": "not configured (chat only)",
        "instances": {"1": {"status": "up", "last_seen": beat(2)["at"], "pid": 7}}}
    assert body["livekit"] == "not configured (chat only)"


def test_each_ai_feature_is_reported_as_the_service_doing_it_says() -> None:
    ai = report()[1]["ai_services"]
    assert ai["dialogue"] == "local" and ai["speech to text"] == "local"
    assert ai["text to speech"] == "not reported"  # the agent-worker beats but did not say
    assert ai["summary"] == "unknown (postprocess not running)"


def test_degraded_with_503_when_a_service_is_missing_or_stale() -> None:
    status, body = report(beats={"gateway": one(beat(1)), "call-router": one(beat(60))})
    assert status == 503 and body["services"]["call-router"]["status"] == "stale"
    status, body = report(beats={"gateway": one(beat(1))})
    assert status == 503 and body["services"]["call-router"] == {"status": "down", "last_seen": None}


def test_degraded_when_database_or_bus_is_unreachable() -> None:
    assert report(database_ok=False)[1]["database"] == "unreachable"
    assert report(nats_ok=False)[0] == 503


def test_the_embedded_room_server_state_the_launcher_reports() -> None:
    def room_server(state: str, age: float = 1) -> dict[str, object]:
        return one({"at": (NOW - timedelta(seconds=age)).isoformat(), "details": {"state": state}})

    beats = {"gateway": one(beat(1)), "call-router": one(beat(2, livekit="configured"))}
    assert report(beats=beats)[1]["livekit"] == "configured"  # a LiveKit server or Cloud: not probed
    status, body = report(beats=beats | {"room-server": room_server("up")})
    assert status == 200 and body["livekit"] == "configured (embedded room server: up)"
    down = "down (exited with -9); restarting in 1s"
    status, body = report(beats=beats | {"room-server": room_server(down)})
    assert status == 503 and body["livekit"] == f"configured (embedded room server: {down})"
    assert report(beats=beats | {"room-server": room_server("up", 60)})[0] == 503


def test_each_instance_of_a_service_is_listed_and_all_must_beat() -> None:
    beats = {"gateway": one(beat(1)), "call-router": {"1": beat(2, livekit="configured"), "2": beat(1)}}
    status, body = report(beats=beats)
    router = body["services"]["call-router"]
    assert status == 200 and router["status"] == "up" and set(router["instances"]) == {"1", "2"}
    assert router["last_seen"] == beat(1)["at"]  # the newest beat speaks for the service
    status, body = report(beats=beats | {"call-router": {"1": beat(2), "2": beat(60)}})
    assert status == 503 and body["services"]["call-router"]["status"] == "stale"
    assert body["services"]["call-router"]["instances"]["2"]["status"] == "stale"
