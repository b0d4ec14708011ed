"""The ops files: no Docker engine runs here, so check that compose parses and that everything it and
.env.example name exists in the code: modules, ports, environment variables."""

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
from contracts.settings import PLACEHOLDER_SECRETS
from embedded_stack.launcher import BUS_SERVICES, INSTANCES_ENV, SERVICES
from gateway.config import Settings as GatewaySettings
from kpis.formula import ScoreWeights
from postprocess.config import Settings as PostprocessSettings
from sentiment.config import Settings as SentimentSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "deploy" / "compose" / "compose.yaml"
ENV_EXAMPLE = ROOT / "deploy" / "compose" / ".env.example"
OPERATIONS = ROOT / "docs" / "operations.md"
# Each service's settings, in SERVICES order.
SERVICE_SETTINGS = (GatewaySettings, CallRouterSettings, AgentWorkerSettings, SentimentSettings, AnalyticsSettings,
                    PostprocessSettings)
# Read by more than one service: the performance score's weights (gateway and analytics).
ALL_SETTINGS = (*SERVICE_SETTINGS, ScoreWeights)
# Read by `make run`'s launcher (deploy/local), not by a service.
MAKE_RUN_VARIABLES = {"DEMO_PASSWORD", "PLATFORM_DATA_DIR", INSTANCES_ENV}
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
    return set(documented_values())


def documented_values() -> dict[str, str]:
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", ENV_EXAMPLE.read_text(), re.MULTILINE))


def compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load(COMPOSE.read_text())


def interpolated_variables() -> set[str]:
    return set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text()))


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
    assert (SEED_VARIABLES | interpolated_variables()) - documented_variables() == set()


def test_every_variable_compose_sets_is_read_by_the_code_and_documented() -> None:
    """What every service gets (the shared block) is read by at least one of them; what one service gets
    on its own, by that service."""
    services = compose()["services"]
    shared = compose()["x-environment"]
    read = set().union(*(env_names(settings) for settings in ALL_SETTINGS))
    for (name, _), settings in zip(SERVICES, SERVICE_SETTINGS, strict=True):
        environment = services[name]["environment"]
        assert set(environment) - read == set(), name
        assert set(environment) - set(shared) - env_names(settings) == set(), name
        assert set(environment) - documented_variables() == set(), name


def test_every_documented_variable_is_read_by_something() -> None:
    launcher = "".join(path.read_text() for path in (ROOT / "deploy" / "local" / "src").rglob("*.py"))
    assert all(variable in launcher for variable in MAKE_RUN_VARIABLES)
    read = set().union(*(env_names(settings) for settings in ALL_SETTINGS))
    assert documented_variables() - read - interpolated_variables() - MAKE_RUN_VARIABLES == set()


@pytest.mark.parametrize("settings", ALL_SETTINGS, ids=lambda s: s.__module__.split(".")[0])
def test_secrets_have_no_usable_value_in_env_example(settings: type[BaseSettings]) -> None:
    """A secret has no safe default: the example names it with nothing or a placeholder, which a
    service in production refuses, so nobody runs on a value copied from here."""
    values = documented_values()
    secrets = settings.model_construct().secret_fields() if hasattr(settings, "secret_fields") else {}
    for variable in secrets:
        assert values[variable].strip().lower() in PLACEHOLDER_SECRETS, variable


def test_every_published_port_is_where_its_service_listens() -> None:
    services = compose()["services"]
    for (name, _), settings in zip(SERVICES, SERVICE_SETTINGS, strict=True):
        environment = services[name]["environment"]
        prefix = settings.model_config.get("env_prefix", "")
        for mapping in services[name].get("ports", []):
            inside = int(str(mapping).rsplit(":", 1)[1])
            assert int(environment.get(f"{prefix}PORT", settings.model_fields["port"].default)) == inside, name
            assert f"127.0.0.1:{inside}/" in str(services[name]["healthcheck"]["test"]), name
        if name in BUS_SERVICES:  # its metrics are on, on a port of its own inside its container
            assert int(environment[f"{prefix}METRICS_PORT"]) > 0, name


def test_the_services_the_docs_scale_can_be_scaled() -> None:
    """`docker compose up --scale X=N` needs X without a fixed container name, host port or hostname;
    only the bus services share their work, so only they are scaled."""
    services = compose()["services"]
    scaled = set(re.findall(r"--scale ([a-z-]+)=", OPERATIONS.read_text()))
    assert scaled and scaled <= set(BUS_SERVICES)
    for name in BUS_SERVICES:
        assert not {"container_name", "ports", "hostname"} & set(services[name]), name
