"""What follows a call: its archive entry and the supervisor's notifications."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, NonNegativeFloat, NonNegativeInt

from contracts.calls import CallScoped
from contracts.envelope import Envelope


class ArchiveSaved(CallScoped):
    """Everything analytics needs to fold the call into its daily aggregates, without a database read."""

    topic: ClassVar[str] = "archive.saved"
    type: Literal["archive.saved"] = "archive.saved"
    agent_name: str
    started_at: AwareDatetime = Field(description="Aggregates count the call on this instant's UTC day.")
    summary: str
    tags: list[str]
    csat: float | None = Field(default=None, ge=1.0, le=5.0)
    fcr: bool
    resolved: bool
    handle_seconds: NonNegativeFloat
    sentiment_label: Literal["negative", "neutral", "positive"] | None = Field(
        default=None, description="The call's last rolling sentiment; None when the customer never spoke.")
    tool_requests: NonNegativeInt = 0
    tools_denied: NonNegativeInt = Field(default=0, description="Denied or timed out by the supervisor.")
    taken_over: bool = Field(default=False, description="A person took the call over from the agent at least once.")
    summary_source: str = Field(description="Which path produced the summary (a provider or offline).")


class FcrRevised(CallScoped):
    """An archived call lost its first-contact resolution: the caller came back about the same thing."""

    topic: ClassVar[str] = "archive.fcr_revised"
    type: Literal["archive.fcr_revised"] = "archive.fcr_revised"
    started_at: AwareDatetime = Field(description="The revised call's start, for its day's aggregate.")
    fcr: Literal[False] = False
    repeat_call_id: UUID = Field(description="The later call that revealed the repeat contact.")


class NotificationCreated(Envelope):
    topic: ClassVar[str] = "notification.created"
    type: Literal["notification.created"] = "notification.created"
    notification_id: UUID
    kind: Literal["tool_permission", "call_ended", "queue_building", "whisper", "human_requested", "system"]
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)
