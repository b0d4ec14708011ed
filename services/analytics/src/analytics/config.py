from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.settings import MetricsSettings


class Settings(MetricsSettings):
    model_config = SettingsConfigDict(env_prefix="ANALYTICS_", extra="ignore", populate_by_name=True)

    live_counter_heartbeat_seconds: float = Field(
        15.0, gt=0, description="Counters are published on every change and re-sent this often regardless.")
