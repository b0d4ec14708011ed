from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from contracts.settings import LiveKitSettings, MetricsSettings


class Settings(LiveKitSettings, MetricsSettings):
    model_config = SettingsConfigDict(env_prefix="CALL_ROUTER_", extra="ignore", populate_by_name=True)

    max_concurrent_calls: int = Field(10, ge=1,
                                      description="Platform-wide cap on calls at once; callers beyond it queue.")
    queue_alert_length: int = Field(3, ge=1, description="Notify the supervisor when this many callers wait "
                                                         "for one agent.")
    abandon_after_seconds: float = Field(
        60.0, gt=0, description="A chat customer with no live view open and no message for this long has left: "
                                "their call ends as abandoned (or they leave the queue).")
    long_wait_seconds: float = Field(
        300.0, gt=0, description="A queued caller waiting this long is offered to keep waiting or leave.")
    agent_join_timeout_seconds: float = Field(
        30.0, gt=0, description="A voice call whose room no agent has joined by then ends as an error.")
