from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.settings import ServiceSettings, shared


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="SENTIMENT_", extra="ignore", populate_by_name=True)

    model_dir: str | None = Field(None, validation_alias=shared("SENTIMENT_MODEL_DIR"),
                                  description="A compatible ONNX classifier to use instead of the shipped one.")
    publish_interval_seconds: float = Field(5.0, gt=0, description="The seed's 'every 5 s'.")
