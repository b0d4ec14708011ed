"""Settings every service shares. Each service subclasses it with its own env prefix."""

from __future__ import annotations

import socket
from typing import Literal

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Values that mean "nobody set this": refused outside development.
PLACEHOLDER_SECRETS = frozenset({"", "change-me", "changeme", "secret", "dev-secret", "..."})


def shared(name: str) -> AliasChoices:
    """An unprefixed environment variable every service reads under the same name."""
    return AliasChoices(name)


class ServiceSettings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore", populate_by_name=True)

    environment: Literal["dev", "test", "production"] = Field(
        "dev", validation_alias=shared("ENVIRONMENT"),
        description="dev allows placeholder secrets; production refuses them.")
    nats_url: str = Field("nats://127.0.0.1:4222", validation_alias=shared("NATS_URL"))
    database_url: str = Field(
        "postgresql://postgres@127.0.0.1:54329/platform", validation_alias=shared("DATABASE_URL"))
    log_level: str = Field("INFO", validation_alias=shared("LOG_LEVEL"))
    heartbeat_seconds: float = Field(5.0, gt=0, validation_alias=shared("HEARTBEAT_SECONDS"))
    stream_replicas: int = Field(1, ge=1, le=5, validation_alias=shared("NATS_STREAM_REPLICAS"),
                                 description="Copies of each JetStream stream: 3 on a three-node NATS cluster.")
    instance: str = Field(
        "", validation_alias=shared("SERVICE_INSTANCE"), pattern=r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$",
        description="Which of its service's instances this process is, named in its heartbeat (/health) and log "
                    "lines; empty: the host's name (a container's own). `make run` numbers its instances.")

    @field_validator("instance", mode="before")
    @classmethod
    def _host_unless_named(cls, value: object) -> object:
        return value or socket.gethostname()

    def secret_fields(self) -> dict[str, str | None]:
        """Secrets this service needs when it runs for real; overridden where there are any."""
        return {}

    @model_validator(mode="after")
    def _refuse_placeholder_secrets(self) -> ServiceSettings:
        if self.environment == "production":
            bad = [name for name, value in self.secret_fields().items()
                   if value is not None and value.strip().lower() in PLACEHOLDER_SECRETS]
            if bad:
                raise ValueError(f"placeholder secret(s) in production: {', '.join(sorted(bad))}")
        return self


class MetricsSettings(ServiceSettings):
    """The bus services' Prometheus metrics (contracts.metrics); the gateway has /metrics on its own port."""

    metrics_port: int | None = Field(None, ge=1, le=65535,
                                     description="Serve Prometheus metrics on this port (off when unset).")
    metrics_host: str = Field("127.0.0.1", validation_alias=shared("METRICS_HOST"),
                              description="Where the metrics port listens (0.0.0.0 in a container).")


class CallOwnershipSettings(ServiceSettings):
    """A service whose instances share the live calls, one owner each (contracts.ownership)."""

    call_lease_seconds: float = Field(
        5.0, gt=0, validation_alias=shared("CALL_LEASE_SECONDS"),
        description="An instance's hold on a call, renewed every third of it: a dead owner's calls are taken over "
        "by another instance this long after its last renewal.")


class LiveKitSettings(ServiceSettings):
    """LiveKit, read the same way by every service that uses it (gateway, call-router, agent-worker)."""

    livekit_url: str | None = Field(None, validation_alias=shared("LIVEKIT_URL"),
                                    description="The LiveKit server; with the key and secret, voice calls get rooms.")
    livekit_api_key: str | None = Field(None, validation_alias=shared("LIVEKIT_API_KEY"))
    livekit_api_secret: str | None = Field(None, validation_alias=shared("LIVEKIT_API_SECRET"),
                                           description="Signs room tokens and LiveKit API calls.")
    livekit_agent_name: str = Field(
        "cs-agent", validation_alias=shared("LIVEKIT_AGENT_NAME"),
        description="The agent-worker registers with LiveKit under it; the call-router dispatches it into rooms.")

    @property
    def voice_enabled(self) -> bool:
        return bool(self.livekit_url and self.livekit_api_key and self.livekit_api_secret)

    def secret_fields(self) -> dict[str, str | None]:
        return {"LIVEKIT_API_SECRET": self.livekit_api_secret}
