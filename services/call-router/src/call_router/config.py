from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.settings import ServiceSettings, shared


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="CALL_ROUTER_", extra="ignore", populate_by_name=True)

    max_concurrent_calls: int = Field(10, ge=1, description="Platform-wide cap (the seed's POC limit).")
    queue_alert_length: int = Field(3, ge=1, description="Notify the supervisor when this many callers wait "
                                                         "for one agent.")
    livekit_url: str | None = Field(None, validation_alias=shared("LIVEKIT_URL"))
    livekit_api_key: str | None = Field(None, validation_alias=shared("LIVEKIT_API_KEY"))
    livekit_api_secret: str | None = Field(None, validation_alias=shared("LIVEKIT_API_SECRET"))
    livekit_agent_name: str = Field("cs-agent", validation_alias=shared("LIVEKIT_AGENT_NAME"),
                                    description="The agent-worker's name in LiveKit dispatch.")
    agent_join_timeout_seconds: float = Field(
        30.0, gt=0, description="A voice call whose room no agent has joined by then ends as an error.")

    @property
    def voice_enabled(self) -> bool:
        return bool(self.livekit_url and self.livekit_api_key and self.livekit_api_secret)

    def secret_fields(self) -> dict[str, str | None]:
        return {"LIVEKIT_API_SECRET": self.livekit_api_secret}
