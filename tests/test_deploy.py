"""The ops files: no Docker engine runs here, so check that compose parses and names everything."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings

from agent_worker.config import Settings as AgentWorkerSettings
from analytics.config import Settings as AnalyticsSettings
from call_router.config import Settings as CallRouterSettings
from embedded_stack.launcher import SERVICES
from gateway.config import Settings as GatewaySettings
from postprocess.config import Settings as PostprocessSettings
from sentiment.config import Settings as SentimentSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
ENV_EXAMPLE = ROOT / "deploy" / "compose" / ".env.example"
ALL_SETTINGS = (GatewaySettings, CallRouterSettings, AgentWorkerSettings, SentimentSettings, AnalyticsSettings,
                PostprocessSettings)
SEED_VARIABLES = {"DATABASE_URL", "SUPABASE_URL", "SUPABASE_KEY", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET",
                  "LIVEKIT_URL", "GEMINI_API_KEY", "GROQ_API_KEY", "JWT_SECRET", "CORS_ORIGINS"}


def env_names(settings: type[BaseSettings]) -> set[str]:
    prefix = settings.model_config.get("env_prefix", "")
    names = set()
    for name, field in settings.model_fields.items():
        alias = field.validation_alias
        names.add(str(alias.choices[0]) if isinstance(alias, AliasChoices) else f"{prefix}{name}".upper())
    return names


def documented_variables() -> set[str]:
    return set(re.findall(r"^([A-Z][A-Z0-9_]*)=", ENV_EXAMPLE.read_text(), re.MULTILINE))


def test_compose_names_infrastructure_and_every_service() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    services = compose["services"]
    assert {"nats", "postgres", "livekit"} <= services.keys()
    assert "--jetstream" in services["nats"]["command"] and "--http_port" in services["nats"]["command"]
    assert "--dev" in services["livekit"]["command"]
    for name, module in SERVICES:
        build = services[name]["build"]
        assert (COMPOSE.parent / build["context"] / build["dockerfile"]).is_file()
        assert build["args"] == {"SERVICE": name, "MODULE": module}
        assert services[name]["environment"]["NATS_URL"] == "nats://nats:4222"
        assert (ROOT / "services" / name / "src" / module / "__main__.py").is_file()


def test_dockerfile_has_the_targets_compose_asks_for() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    dockerfile = (ROOT / "deploy" / "compose" / "service.Dockerfile").read_text()
    stages = set(re.findall(r"^FROM \S+ AS (\S+)$", dockerfile, re.MULTILINE))
    assert {compose["services"][name]["build"]["target"] for name, _ in SERVICES} <= stages


@pytest.mark.parametrize("settings", ALL_SETTINGS, ids=lambda s: s.__module__.split(".")[0])
def test_every_setting_is_documented_in_env_example(settings: type[BaseSettings]) -> None:
    assert env_names(settings) - documented_variables() == set()


def test_env_example_lists_the_seed_variables_and_everything_compose_interpolates() -> None:
    interpolated = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))
    assert (SEED_VARIABLES | interpolated) - documented_variables() == set()
