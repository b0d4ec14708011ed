from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from contracts.settings import LiveKitSettings, shared

# Long enough for HS256, and refused in production like any placeholder.
DEV_JWT_SECRET = "dev-only-jwt-secret-never-use-in-production"
MIN_JWT_SECRET_BYTES = 32
SERVICES = ("gateway", "call-router", "agent-worker", "sentiment", "analytics", "postprocess")


class Settings(LiveKitSettings):
    model_config = SettingsConfigDict(env_prefix="GATEWAY_", extra="ignore", populate_by_name=True)

    host: str = "0.0.0.0"
    port: int = Field(8000, ge=1, le=65535)
    frontend_dist: Path = Field(
        Path(__file__).resolve().parents[4] / "frontend" / "dist",
        description="Built frontend served at /; absent in a backend-only deployment.")
    expected_services: tuple[str, ...] = SERVICES
    cors_origins: str = Field("", validation_alias=shared("CORS_ORIGINS"))
    jwt_secret: str = Field(DEV_JWT_SECRET, validation_alias=shared("JWT_SECRET"))
    supabase_url: str | None = Field(None, validation_alias=shared("SUPABASE_URL"))
    supabase_key: str | None = Field(None, validation_alias=shared("SUPABASE_KEY"),
                                     description="The service-role key: the gateway creates and deletes users.")
    supabase_jwt_secret: str | None = Field(
        None, validation_alias=shared("SUPABASE_JWT_SECRET"),
        description="Verifies Supabase's HS256 tokens; empty: verify with the project's JWKS.")

    access_token_seconds: int = Field(3600, ge=60, description="How long an access token lasts (1 hour).")
    refresh_token_seconds: int = Field(7 * 24 * 3600, ge=300, description="How long a refresh token lasts (7 days).")
    stream_token_seconds: int = Field(120, ge=10, description="Lifetime of an SSE stream token (checked on connect).")
    max_agents_per_supervisor: int = Field(
        3, ge=1, description="Agents a new supervisor may have; an admin can raise it per supervisor.")
    max_streams_per_supervisor: int = Field(3, ge=1, description="Agent streams open at once (one per agent).")
    sse_ping_seconds: float = Field(15.0, gt=0, description="Heartbeat comments keep proxies from closing streams.")
    max_body_bytes: int = Field(256 * 1024, ge=1024)
    keep_alive_seconds: int = Field(
        75, ge=1, description="How long an idle HTTP connection stays open. Longer than a load balancer's idle "
                                "timeout (60 s is common) and than the gap between a customer's messages: a server "
                                "closing first races the client's next request on that connection (uvicorn's 5 s "
                                "default reset requests under load).")
    login_attempts_per_minute: int = Field(10, ge=1, description="Per client address and per account.")
    refresh_attempts_per_minute: int = Field(30, ge=1)
    call_attempts_per_minute: int = Field(10, ge=1, description="Calls a client address may start per minute.")
    presence_beat_seconds: float = Field(
        15.0, gt=0, description="While a customer's live view is open, the router hears so this often (it ends the "
                                "call of a customer unheard of for its abandonment window).")
    call_token_seconds: int = Field(4 * 3600, ge=60, description="How long a customer's call token works.")
    call_answer_seconds: float = Field(10.0, gt=0, description="How long a new call waits for the router's "
                                                                 "answer (connected or queued) before a 503.")
    metrics_token: str | None = Field(None, description="Bearer token a Prometheus scraper may use for /metrics "
                                                        "(an admin's access token also works).")

    @model_validator(mode="after")
    def _strong_jwt_secret_in_production(self) -> Settings:
        if self.environment == "production" and (
                self.jwt_secret == DEV_JWT_SECRET or len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES):
            raise ValueError(f"JWT_SECRET must be a real secret of at least {MIN_JWT_SECRET_BYTES} bytes in production")
        return self

    @property
    def uses_supabase_auth(self) -> bool:
        return bool(self.supabase_url and self.supabase_key)

    def secret_fields(self) -> dict[str, str | None]:
        return {**super().secret_fields(), "JWT_SECRET": self.jwt_secret, "SUPABASE_KEY": self.supabase_key,
                "SUPABASE_JWT_SECRET": self.supabase_jwt_secret}
