from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", populate_by_name=True)

    live_counter_interval_seconds: float = Field(5.0, gt=0)
