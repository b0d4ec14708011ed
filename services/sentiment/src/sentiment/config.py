from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.settings import CallOwnershipSettings, MetricsSettings, shared


class Settings(MetricsSettings, CallOwnershipSettings):
    model_config = SettingsConfigDict(env_prefix="SENTIMENT_", extra="ignore", populate_by_name=True)

    model_dir: str | None = Field(None, validation_alias=shared("SENTIMENT_MODEL_DIR"),
                                  description="A compatible ONNX classifier to use instead of the shipped one.")
    publish_interval_seconds: float = Field(5.0, gt=0, description="How often a live call's scores are sent, at least.")
    # The hosted satisfaction estimate: an OpenAI-compatible server when its URL is set, else Groq when
    # GROQ_API_KEY is, else the local formula. "off" keeps the local formula whatever is configured.
    satisfaction_llm: Literal["auto", "off"] = "auto"
    satisfaction_llm_base_url: str | None = Field(None, validation_alias=shared("SATISFACTION_LLM_BASE_URL"))
    satisfaction_llm_api_key: str | None = Field(None, validation_alias=shared("SATISFACTION_LLM_API_KEY"))
    satisfaction_model: str | None = Field(None, description="Default on Groq: llama-3.1-8b-instant.")
    satisfaction_timeout_seconds: float = Field(8.0, gt=0)
    groq_api_key: str | None = Field(None, validation_alias=shared("GROQ_API_KEY"))
    groq_base_url: str | None = Field(None, validation_alias=shared("GROQ_BASE_URL"))

    def secret_fields(self) -> dict[str, str | None]:
        return {"GROQ_API_KEY": self.groq_api_key, "SATISFACTION_LLM_API_KEY": self.satisfaction_llm_api_key}
