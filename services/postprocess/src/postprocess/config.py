from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.settings import MetricsSettings, shared


class Settings(MetricsSettings):
    model_config = SettingsConfigDict(env_prefix="POSTPROCESS_", extra="ignore", populate_by_name=True)

    groq_api_key: str | None = Field(None, validation_alias=shared("GROQ_API_KEY"))
    groq_base_url: str | None = Field(None, validation_alias=shared("GROQ_BASE_URL"),
                                      description="Another Groq endpoint (a proxy); the groq SDK reads it too.")
    groq_attempts: int = Field(3, ge=1, le=10, description="Tries before falling back to the offline summary.")
    fcr_window_days: int = Field(7, ge=1, description="A repeat contact within this window voids FCR.")

    def secret_fields(self) -> dict[str, str | None]:
        return {"GROQ_API_KEY": self.groq_api_key}
