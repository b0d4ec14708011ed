"""What follows a call: its archive entry and the supervisor's notifications."""

from __future__ import annotations

from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import Field, NonNegativeFloat

from contracts.calls import CallScoped
from contracts.envelope import Envelope


class ArchiveSaved(CallScoped):
    topic: ClassVar[str] = "archive.saved"
    type: Literal["archive.saved"] = "archive.saved"
    summary: str
    tags: list[str]
    csat: float | None = Field(default=None, ge=1.0, le=5.0)
    fcr: bool
    handle_seconds: NonNegativeFloat
    summary_source: str = Field(description="Which path produced the summary (a provider or offline).")


class NotificationCreated(Envelope):
    topic: ClassVar[str] = "notification.created"
    type: Literal["notification.created"] = "notification.created"
    notification_id: UUID
    kind: Literal["tool_permission", "call_ended", "queue_building", "whisper", "system"]
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=2000)
    data: dict[str, Any] = Field(default_factory=dict)
