from __future__ import annotations

import pytest
from pydantic import ValidationError

from agent_worker.config import Settings as AgentWorkerSettings
from gateway.config import DEV_JWT_SECRET
from gateway.config import Settings as GatewaySettings


def test_shared_variables_are_read_unprefixed_and_own_ones_with_the_service_prefix(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NATS_URL", "nats://bus:4222")
    monkeypatch.setenv("GATEWAY_PORT", "9000")
    settings = GatewaySettings()
    assert settings.nats_url == "nats://bus:4222"
    assert settings.port == 9000


@pytest.mark.parametrize("secret", ["change-me", "dev-secret", " secret "])
def test_production_refuses_placeholder_secrets(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", secret)
    with pytest.raises(ValidationError, match=r"placeholder secret.*JWT_SECRET"):
        GatewaySettings()


@pytest.mark.parametrize("secret", ["short-but-not-a-placeholder", DEV_JWT_SECRET])
def test_production_refuses_a_weak_or_development_jwt_secret(monkeypatch: pytest.MonkeyPatch, secret: str) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", secret)
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        GatewaySettings()


def test_dev_accepts_the_default_secret_and_production_a_real_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ENVIRONMENT", raising=False)
    monkeypatch.delenv("JWT_SECRET", raising=False)
    assert GatewaySettings().jwt_secret == DEV_JWT_SECRET
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("JWT_SECRET", "k3Jd9-a-real-secret-long-enough-for-hs256")
    assert GatewaySettings().environment == "production"


@pytest.mark.parametrize(("env", "brain"), [
    ({}, "local-minilm"),
    ({"LLM_BASE_URL": "http://127.0.0.1:9/v1"}, "openai-compatible"),
    ({"LLM_BASE_URL": "http://127.0.0.1:9/v1", "GEMINI_API_KEY": "k"}, "gemini"),
])
def test_agent_brain_follows_the_environment(monkeypatch: pytest.MonkeyPatch, env: dict[str, str],
                                             brain: str) -> None:
    for name in ("LLM_BASE_URL", "GEMINI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert AgentWorkerSettings().brain == brain
