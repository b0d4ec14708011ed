"""Call lifecycle: dial, queue, start, customer (and supervisor) messages, a person taking the call over
and handing it back, hang-up, end; agent availability."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, NonNegativeFloat, NonNegativeInt, PositiveInt

from contracts.envelope import Envelope

Channel = Literal["chat", "voice"]
Party = Literal["customer", "agent", "supervisor"]


def livekit_room_name(call_id: UUID) -> str:
    """The LiveKit room of a voice call: the router creates it, the gateway's customer token opens it."""
    return f"call-{call_id}"


def customer_identity(call_id: UUID) -> str:
    """The customer's participant identity in the call's LiveKit room (the gateway's token says it)."""
    return f"customer-{call_id}"


def supervisor_identity(call_id: UUID) -> str:
    """The participant identity of a supervisor who took a voice call over (the gateway's take-over
    token says it; the agent transcribes what it says as the supervisor's)."""
    return f"supervisor-{call_id}"


# The caller of a customer who gave no name: nobody to recognise on a repeat call.
ANONYMOUS_CALLER = "anonymous"


class CallRef(BaseModel):
    """Which call: its supervisor, agent and id, as every call subject names them. Also what the
    call-router has LiveKit hand the agent-worker with a voice call's room (the job's metadata)."""

    model_config = ConfigDict(frozen=True)

    supervisor_id: UUID
    agent_id: UUID
    call_id: UUID

    def fields(self) -> dict[str, UUID]:
        """The ids as an event's fields: ``TranscriptChunk(**call.fields(), ...)``."""
        return {"supervisor_id": self.supervisor_id, "agent_id": self.agent_id, "call_id": self.call_id}


class CallScoped(Envelope):
    agent_id: UUID
    call_id: UUID


class CallRequested(CallScoped):
    """A customer dialled an agent's mock number; the router decides connect or queue."""

    topic: ClassVar[str] = "call.requested"
    type: Literal["call.requested"] = "call.requested"
    channel: Channel
    dialled_number: str = Field(min_length=3, max_length=32)
    caller: str = Field(default=ANONYMOUS_CALLER, max_length=128, description="Caller identity the customer gave.")


class CallQueued(CallScoped):
    """The call waits; sent again each time its place in the queue changes."""

    topic: ClassVar[str] = "call.queued"
    type: Literal["call.queued"] = "call.queued"
    position: PositiveInt
    reason: Literal["agent_busy", "platform_at_capacity"]
    # Sent once the wait passes the router's bound: the caller is offered to keep waiting or leave.
    long_wait: bool = False
    waited_seconds: NonNegativeFloat = 0.0


class CallStarted(CallScoped):
    topic: ClassVar[str] = "call.started"
    type: Literal["call.started"] = "call.started"
    channel: Channel
    caller: str = Field(max_length=128)
    agent_name: str
    queued_seconds: NonNegativeFloat = 0.0
    livekit_room: str | None = None


class CustomerMessage(CallScoped):
    """A chat message typed by the customer, on its way to the agent."""

    topic: ClassVar[str] = "call.message"
    type: Literal["call.message"] = "call.message"
    text: str = Field(min_length=1, max_length=4000)


class CustomerPresence(CallScoped):
    """The customer's live view of their call is open (sent when it opens and every few seconds while
    it stays open) or closed. A customer heard of by neither this nor a message for the router's
    abandonment window has left: their call ends as abandoned."""

    topic: ClassVar[str] = "call.presence"
    type: Literal["call.presence"] = "call.presence"
    connected: bool
class SupervisorMessage(CallScoped):
    """A line the supervisor who took the call over writes to the customer, on its way to the transcript."""

    topic: ClassVar[str] = "call.message"
    type: Literal["call.supervisor_message"] = "call.supervisor_message"
    by: UUID = Field(description="The supervisor or admin who wrote it.")
    text: str = Field(min_length=1, max_length=4000)


class CallTakenOver(CallScoped):
    """A person took the call over: the agent told the customer and stays silent until handed back.
    The customer sees this, so it names the person as the customer should know them."""

    topic: ClassVar[str] = "call.handled"
    type: Literal["call.taken_over"] = "call.taken_over"
    by: UUID = Field(description="The supervisor or admin now handling the call.")
    by_name: str = Field(max_length=200, description="Their display name, shown to the customer.")


class CallHandedBack(CallScoped):
    """The person handed the call back: the agent carries on (any instructions for it travel as a
    whisper.inject just before this, which the customer never sees)."""

    topic: ClassVar[str] = "call.handled"
    type: Literal["call.handed_back"] = "call.handed_back"
    by: UUID
    agent_name: str = Field(max_length=200, description="Who the customer is talking to again.")


class CallHangup(CallScoped):
    """Someone asked to end the call (or leave the queue); the router ends it."""

    topic: ClassVar[str] = "call.hangup"
    type: Literal["call.hangup"] = "call.hangup"
    by: Party
    reason: str = Field(default="", max_length=500)
    # The platform failed the call (a room that would not open, an agent that could not join): it ends
    # as an error, not as the party's choice.
    failed: bool = False
    # The customer stopped answering (the agent asked whether they were still there): it ends as abandoned.
    abandoned: bool = False


# abandoned_in_queue: the caller left (or vanished) before an agent answered; abandoned: after, by
# vanishing (no live view and no message for the abandonment window) rather than hanging up.
EndReason = Literal[
    "customer_hangup", "agent_resolved", "supervisor_ended", "abandoned_in_queue", "abandoned", "error"
]
ABANDONED: tuple[EndReason, ...] = ("abandoned_in_queue", "abandoned")


CallStatus = Literal["queued", "active", "ended"]


class CallRow(BaseModel):
    """A row of the calls table: the call-router writes it (the agent-worker notes the brain that served
    it), and every service reads it. Its columns, typed once; a test holds this to the table."""

    id: UUID
    supervisor_id: UUID
    agent_id: UUID | None  # the agent was deleted since; the call keeps its name
    agent_name: str
    channel: Channel
    caller: str
    dialled_number: str
    status: CallStatus
    brain: str | None
    livekit_room: str | None
    queued_at: AwareDatetime
    started_at: AwareDatetime | None
    ended_at: AwareDatetime | None
    end_reason: EndReason | None
    ended_by: Party | None
    queue_position: PositiveInt | None
    customer_seen_at: AwareDatetime | None
    long_wait_offered_at: AwareDatetime | None
    taken_over_by: UUID | None  # the person handling the call instead of its agent, until handed back
    taken_over_at: AwareDatetime | None
    takeovers: NonNegativeInt


class CallEnded(CallScoped):
    topic: ClassVar[str] = "call.ended"
    type: Literal["call.ended"] = "call.ended"
    reason: EndReason
    ended_by: Party
    channel: Channel
    caller: str = Field(max_length=128)
    started_at: AwareDatetime | None = Field(description="None when the call never left the queue.")
    ended_at: AwareDatetime
    duration_seconds: NonNegativeFloat
    queued_seconds: NonNegativeFloat = 0.0
    brain: str | None = Field(default=None, description="Which dialogue engine served the call.")


class AgentStatusChanged(Envelope):
    topic: ClassVar[str] = "agent.status"
    type: Literal["agent.status"] = "agent.status"
    agent_id: UUID
    status: Literal["idle", "busy", "paused", "offline"]
    queue_length: int = Field(default=0, ge=0)
