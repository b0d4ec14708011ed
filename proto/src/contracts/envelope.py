"""The envelope every bus event shares."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar, Literal
from uuid import UUID, uuid4

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from contracts.subjects import subject_for


def utc_now() -> datetime:
    return datetime.now(UTC)


def new_event_id() -> UUID:
    return uuid4()


class Envelope(BaseModel):
    """Fields common to every event.

    ``extra="forbid"``: a producer that sends a field the contract does not know is a bug we want to
    see as a dead letter, not silently drop. Additive changes bump ``schema_version``.
    """

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    topic: ClassVar[str]

    event_id: UUID = Field(default_factory=new_event_id, description="Unique id; consumers dedupe on it.")
    type: str
    schema_version: Literal[1] = 1
    occurred_at: AwareDatetime = Field(default_factory=utc_now)
    supervisor_id: UUID = Field(description="Owner of the agent; authorization follows it.")
    agent_id: UUID | None = None
    call_id: UUID | None = None

    @property
    def subject(self) -> str:
        return subject_for(self.topic, self.supervisor_id, self.agent_id, self.call_id)
