from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.settings import ServiceSettings, shared

SERVICES = ("gateway", "call-router", "agent-worker", "sentiment", "analytics", "postprocess")


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    host: str = "0.0.0.0"
    port: int = Field(8000, ge=1, le=65535)
    frontend_dist: Path = Field(
        Path(__file__).resolve().parents[4] / "frontend" / "dist",
        description="Built frontend served at /; absent in a backend-only deployment.")
    expected_services: tuple[str, ...] = SERVICES
    cors_origins: str = Field("", validation_alias=shared("CORS_ORIGINS"))
    livekit_url: str | None = Field(None, validation_alias=shared("LIVEKIT_URL"))
    gemini_api_key: str | None = Field(None, validation_alias=shared("GEMINI_API_KEY"))
    groq_api_key: str | None = Field(None, validation_alias=shared("GROQ_API_KEY"))
    jwt_secret: str = Field("dev-secret", validation_alias=shared("JWT_SECRET"))

    def secret_fields(self) -> dict[str, str | None]:
        return {"JWT_SECRET": self.jwt_secret}
