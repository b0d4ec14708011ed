"""Request and response bodies of the REST API."""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    StrictBool,
    StrictInt,
    StringConstraints,
    model_validator,
)
from pydantic_core import PydanticCustomError

from contracts.calls import ANONYMOUS_CALLER, CallStatus
from contracts.deadletter import DeadLetter
from contracts.tools import BUILTIN_TOOL_NAMES, ToolRequestStatus


def _text(value: str, *, lines: bool) -> str:
    """Text is what a person could type: no control characters (but line breaks and tabs where ``lines``),
    no lone surrogates and no code points Unicode has not assigned. PostgreSQL refuses NUL outright; the
    rest would be stored, then break whatever shows, logs or encodes it."""
    for char in value:
        category = unicodedata.category(char)
        if category == "Cc" and not (lines and char in "\n\r\t"):
            where = "" if lines else " (this field is a single line)"
            raise PydanticCustomError("text_control_character",
                                      "holds the control character U+{code}, which is not allowed here" + where,
                                      {"code": f"{ord(char):04X}"})
        if category in ("Cs", "Cn"):
            raise PydanticCustomError("text_unassigned_character",
                                      "holds U+{code}, which is not an assigned Unicode character",
                                      {"code": f"{ord(char):04X}"})
    return value


# Every text a request carries goes through one of these two: a single line (names, emails, tags, search
# words), or text where line breaks make sense (instructions, knowledge, messages, notes).
OneLine = AfterValidator(lambda value: _text(value, lines=False))
Lines = AfterValidator(lambda value: _text(value, lines=True))

Email = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=254,
                                         pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"), OneLine]
Password = Annotated[str, StringConstraints(min_length=8, max_length=128), OneLine]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), OneLine]
PhoneNumber = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9][0-9 -]{2,30}$")]
Tag = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, min_length=1, max_length=50), OneLine]
SearchWords = Annotated[str, OneLine]


def _iso_format(value: Any) -> Any:
    # Lax parsing would read a bare number as seconds since 1970: "to=0" is a mistake, not 1 January 1970.
    if isinstance(value, str) and not re.match(r"\d{4}-\d{2}-\d{2}", value):
        raise PydanticCustomError("iso_format", "expected an ISO 8601 date, such as 2025-01-31")
    return value


Day = Annotated[date, BeforeValidator(_iso_format)]
Instant = Annotated[datetime, BeforeValidator(_iso_format)]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LoginIn(Body):
    email: Email
    password: Annotated[str, StringConstraints(min_length=1, max_length=128), OneLine]


class RefreshIn(Body):
    refresh_token: Annotated[str, StringConstraints(min_length=1, max_length=2000), OneLine]


class UserOut(BaseModel):
    id: UUID
    email: str
    role: Literal["admin", "supervisor"]


class TokensOut(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserOut


class StreamTokenOut(BaseModel):
    token: str
    expires_in: int


class SupervisorIn(Body):
    email: Email
    password: Password
    full_name: Name
    max_agents: StrictInt | None = Field(None, ge=0, le=100)


class SupervisorPatch(Body):
    full_name: Name | None = None
    active: StrictBool | None = None
    max_agents: StrictInt | None = Field(None, ge=0, le=100)
    password: Password | None = None


class SupervisorOut(BaseModel):
    id: UUID
    email: str
    full_name: str
    active: bool
    max_agents: int
    agent_count: int
    created_at: datetime


class ToolConfig(Body):
    name: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
    description: Annotated[str, StringConstraints(max_length=500), Lines] = ""
    requires_approval: StrictBool = False
    source: Literal["builtin", "mcp"] = "builtin"
    mcp_server_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _source_fits(self) -> ToolConfig:
        if self.source == "mcp" and self.mcp_server_url is None:
            raise ValueError("an MCP tool needs mcp_server_url")
        if self.source == "builtin" and self.name not in BUILTIN_TOOL_NAMES:
            raise ValueError(f"unknown built-in tool {self.name!r}; built-in tools are {', '.join(BUILTIN_TOOL_NAMES)}")
        return self


def _unique_tool_names(tools: list[ToolConfig]) -> list[ToolConfig]:
    names = [t.name for t in tools]
    if len(names) != len(set(names)):
        raise ValueError("tool names must be unique")
    return tools


Tools = Annotated[list[ToolConfig], Field(max_length=20), AfterValidator(_unique_tool_names)]


class CatalogTool(BaseModel):
    name: str
    description: str
    approval_suggested: bool


class KnowledgeEntry(Body):
    title: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200), OneLine]
    content: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=20000), Lines]


Instructions = Annotated[str, StringConstraints(max_length=20000), Lines]
Greeting = Annotated[str, StringConstraints(max_length=500), Lines]
Voice = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=50), OneLine]


class AgentFields(Body):
    instructions: Instructions = ""
    greeting: Greeting = ""
    voice: Voice = "Puck"
    tag_taxonomy: list[Tag] = Field(default_factory=list, max_length=50)
    tools: Tools = Field(default_factory=list)
    knowledge: list[KnowledgeEntry] = Field(default_factory=list, max_length=200)


class AgentIn(AgentFields):
    name: Name
    phone_number: PhoneNumber
    supervisor_id: UUID | None = Field(None, description="Admins only: whose agent it is.")


class AgentPatch(Body):
    name: Name | None = None
    phone_number: PhoneNumber | None = None
    instructions: Instructions | None = None
    greeting: Greeting | None = None
    voice: Voice | None = None
    active: StrictBool | None = None
    tag_taxonomy: list[Tag] | None = Field(None, max_length=50)
    tools: Tools | None = Field(None, description="Replaces the whole list.")
    knowledge: list[KnowledgeEntry] | None = Field(None, max_length=200, description="Replaces the whole list.")


class AgentOut(BaseModel):
    id: UUID
    supervisor_id: UUID
    name: str
    phone_number: str
    instructions: str
    greeting: str
    voice: str
    tag_taxonomy: list[str]
    active: bool
    status: Literal["idle", "busy"]
    tools: list[ToolConfig]
    knowledge: list[KnowledgeEntry]
    created_at: datetime
    updated_at: datetime


class ArchiveItem(BaseModel):
    call_id: UUID
    supervisor_id: UUID
    agent_id: UUID | None
    agent_name: str
    channel: str
    caller: str
    started_at: datetime
    ended_at: datetime
    handle_seconds: float
    summary: str
    tags: list[str]
    csat: float | None
    fcr: bool
    resolved: bool
    sentiment_label: str | None
    summary_source: str
    brain: str | None


class ArchivePage(BaseModel):
    items: list[ArchiveItem]
    total: int = Field(description="Matching calls; counting stops at 1,000 (see total_is_lower_bound).")
    total_is_lower_bound: bool = Field(False, description="More calls match than were counted: show 'total+'.")
    page: int
    page_size: int


class TranscriptLine(BaseModel):
    seq: int
    speaker: str
    text: str
    brain: str | None
    occurred_at: datetime


class ToolDecision(BaseModel):
    id: UUID
    call_id: UUID
    agent_id: UUID | None
    tool_name: str
    arguments: dict[str, Any]
    reason: str
    requires_approval: bool
    status: ToolRequestStatus
    requested_at: datetime
    expires_at: datetime | None = Field(description="A pending request not decided by then counts as denied.")
    decided_at: datetime | None
    decided_by: UUID | None
    note: str
    result: dict[str, Any] | None
    error: str | None


class ArchiveDetail(ArchiveItem):
    sentiment_avg: float | None
    sentiment_timeline: list[dict[str, Any]]
    transcript: list[TranscriptLine]
    tool_requests: list[ToolDecision]


class NotificationOut(BaseModel):
    id: UUID
    supervisor_id: UUID
    call_id: UUID | None
    kind: str
    title: str
    body: str
    data: dict[str, Any]
    created_at: datetime
    read_at: datetime | None


class SupervisorCard(BaseModel):
    id: UUID
    email: str
    full_name: str
    active: bool
    agents: int
    live_calls: int
    queued_calls: int
    calls_today: int
    csat_today: float | None
    fcr_today: float | None
    aht_today_seconds: float | None
    sentiment_today: float | None


class Overview(BaseModel):
    supervisors: list[SupervisorCard]
    live_calls: int
    queued_calls: int


class DirectoryEntry(BaseModel):
    name: str
    phone_number: str


class CallIn(Body):
    number: PhoneNumber = Field(description="The agent's mock number the customer dials.")
    channel: Literal["chat", "voice"] = "chat"
    caller: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128), OneLine] = \
        ANONYMOUS_CALLER


class CallAgent(BaseModel):
    name: str


class LiveKitJoin(BaseModel):
    """How a browser joins a voice call's room: the dialer's customer, or a supervisor listening."""

    url: str
    room: str
    token: str = Field(description="Valid for this room only: the customer's for as long as the call token, a "
                                   "listener's for an hour.")


class CallOut(BaseModel):
    call_id: UUID
    call_token: str = Field(description="Send as 'Authorization: Bearer' (or ?token= on the stream).")
    expires_in: int
    status: Literal["connected", "queued", "ended"]
    queue_position: int | None
    agent: CallAgent
    stream_url: str
    livekit: LiveKitJoin | None = Field(None, description="Voice calls only.")


class MessageIn(Body):
    text: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), Lines]


class Accepted(BaseModel):
    accepted: Literal[True] = True
    event_id: UUID


class InjectIn(Body):
    instructions: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000), Lines]


class HandbackIn(Body):
    instructions: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)] | None = \
        Field(None, description="For the agent, from now on (the customer never sees them).")


class TakenOver(BaseModel):
    call_id: UUID
    taken_over_by: UUID
    name: str = Field(description="How the customer is told who they are talking to now.")
    livekit: LiveKitJoin | None = Field(None, description="Voice calls: a token to speak in the call's room.")


class LiveCall(BaseModel):
    id: UUID
    supervisor_id: UUID
    agent_id: UUID | None
    agent_name: str
    channel: str
    caller: str
    status: CallStatus
    brain: str | None
    queue_position: int | None
    queued_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    end_reason: str | None
    taken_over_by: UUID | None = Field(description="The person handling the call now; None while the agent does.")
    taken_over_by_name: str | None = Field(description="Their name as colleagues see it (full name, else email), "
                                                       "so a dashboard opened later says who has the call.")


class LiveCallDetail(LiveCall):
    transcript: list[TranscriptLine]
    tool_requests: list[ToolDecision]


class DecisionIn(Body):
    allow: StrictBool
    note: Annotated[str, StringConstraints(max_length=1000), Lines] = ""


class ServiceHealth(BaseModel):
    """One service's liveness from its last heartbeat, and what it says about itself (its brain,
    models, whether LiveKit took its registration, ...) as further fields."""

    model_config = ConfigDict(extra="allow")
    status: Literal["up", "stale", "down"]
    last_seen: datetime | None


class HealthReport(BaseModel):
    status: Literal["healthy", "degraded"]
    database: str
    nats: str
    livekit: str
    ai_services: dict[str, str]
    services: dict[str, ServiceHealth]


class DeadLetterOut(DeadLetter):
    sequence: int = Field(description="Its place in the DEADLETTER stream.")


class DeadLetterPage(BaseModel):
    by_consumer: dict[str, int] = Field(description="Letters the stream holds (30 days) per consumer.")
    items: list[DeadLetterOut] = Field(description="The newest first.")


class Replayed(BaseModel):
    consumer: str = Field(description="The consumer the letter went back to (no other sees it).")
    subject: str
    event_id: UUID
