"""Every topic, the events it carries, who produces and consumes it, and how it is delivered.

Producers are the services that build the topic's events; consumers the services that handle them
(their declared subscribers, the gateway's wait for a dial's answer, analytics' live counters);
tests/contracts/test_topic_table.py fails when the table and the code disagree. Besides these, every
topic reaches the browsers allowed to see it through the gateway's live streams.

This table is the single source for proto/README.md's subject table, the JSON Schemas and the
AsyncAPI document (``make gen``), and for the JetStream stream definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Union

from pydantic import Field, TypeAdapter

from contracts.analytics import LiveCounters, SatisfactionScore, SentimentScore
from contracts.calls import (
    AgentStatusChanged,
    CallEnded,
    CallHandedBack,
    CallHangup,
    CallQueued,
    CallRequested,
    CallStarted,
    CallTakenOver,
    CustomerMessage,
    CustomerPresence,
    SupervisorMessage,
)
from contracts.envelope import Envelope
from contracts.results import ArchiveSaved, FcrRevised, NotificationCreated
from contracts.subjects import topic_filter
from contracts.tools import ToolExecuted, ToolPermissionDecision, ToolPermissionRequest
from contracts.transcripts import TranscriptChunk
from contracts.whisper import WhisperAck, WhisperInject, WhisperPause

AT_LEAST_ONCE = "JetStream, at least once; consumers dedupe on event_id"
BROWSERS = "browsers (the gateway's live streams)"
# Not stored: a signal that matters only while it is fresh, superseded by the next one (a stored copy
# of each would fill the stream for a week).
LIVE_SIGNAL = "core NATS, not stored: the next signal supersedes a lost one"


@dataclass(frozen=True)
class Topic:
    name: str
    events: tuple[type[Envelope], ...]
    producers: tuple[str, ...]
    consumers: tuple[str, ...]
    description: str
    guarantee: str = AT_LEAST_ONCE

    @property
    def stored(self) -> bool:
        return self.guarantee != LIVE_SIGNAL

    @property
    def readers(self) -> str:
        """Who takes it: its consumers, and the browsers allowed to see it when it is stored (they read
        the stream)."""
        return ", ".join([*self.consumers, BROWSERS] if self.stored else self.consumers)


TOPICS: tuple[Topic, ...] = (
    Topic("call.requested", (CallRequested,), ("gateway",), ("call-router",),
          "A customer dialled an agent's mock number."),
    Topic("call.queued", (CallQueued,), ("call-router",), ("gateway", "analytics"),
          "The call waits; repeated whenever its queue position changes."),
    Topic("call.started", (CallStarted,), ("call-router",), ("gateway", "agent-worker", "sentiment", "analytics"),
          "The call was matched with its agent."),
    Topic("call.message", (CustomerMessage, SupervisorMessage), ("gateway",), ("call-router", "agent-worker"),
          "A chat message from the customer, or from the supervisor who took the call over."),
    Topic("call.presence", (CustomerPresence,), ("gateway",), ("call-router",),
          "The customer's live view opened, is still open (every few seconds) or closed.",
          guarantee=LIVE_SIGNAL),
    Topic("call.handled", (CallTakenOver, CallHandedBack), ("gateway",), ("agent-worker",),
          "A person took the call over from the agent, or handed it back; the customer sees who they talk to."),
    Topic("call.hangup", (CallHangup,), ("gateway", "call-router", "agent-worker"), ("call-router",),
          "Customer, agent or supervisor asks to end the call or leave the queue."),
    Topic("call.ended", (CallEnded,), ("call-router",),
          ("gateway", "agent-worker", "sentiment", "analytics", "postprocess"),
          "The call is over: duration, reason, who ended it."),
    Topic("agent.status", (AgentStatusChanged,), ("call-router",), ("analytics",),
          "An agent became idle, busy, paused or offline."),
    Topic("transcript.chunk", (TranscriptChunk,), ("agent-worker",), ("sentiment",),
          "One customer, agent or supervisor utterance."),
    Topic("tool.permission", (ToolPermissionRequest, ToolPermissionDecision),
          ("gateway", "call-router", "agent-worker"), ("agent-worker", "sentiment"),
          "A tool call awaiting approval, and the supervisor's decision (or the timeout's, or its withdrawal when "
          "the call ends first)."),
    Topic("tool.result", (ToolExecuted,), ("agent-worker",), ("sentiment",),
          "A tool ran (or failed)."),
    Topic("whisper.command", (WhisperPause, WhisperInject), ("gateway",), ("agent-worker",),
          "The supervisor pauses the agent or injects instructions."),
    Topic("whisper.ack", (WhisperAck,), ("agent-worker",), (),
          "The agent paused, received instructions, resumed; shown to the supervisor only."),
    Topic("sentiment.score", (SentimentScore,), ("sentiment",), ("postprocess",),
          "Rolling customer sentiment, at least every 5 s while a call is live."),
    Topic("satisfaction.score", (SatisfactionScore,), ("sentiment",), ("postprocess",),
          "Estimated satisfaction (1-5) with reasons, every 5 s while a call is live."),
    Topic("archive.saved", (ArchiveSaved,), ("postprocess",), ("analytics",),
          "The call's summary, tags, CSAT, FCR and handle time are archived (exactly once)."),
    Topic("archive.fcr_revised", (FcrRevised,), ("postprocess",), ("analytics",),
          "A repeat contact took an earlier call's first-contact resolution away."),
    Topic("analytics.counters", (LiveCounters,), ("analytics",), (),
          "A supervisor's live counters (calls, queue, busy agents) when they change and every few seconds.",
          guarantee="JetStream; a snapshot, so the next one supersedes a lost one"),
    Topic("notification.created", (NotificationCreated,), ("call-router", "agent-worker", "postprocess"), (),
          "Something the supervisor should see now."),
)

EVENT_TYPES: dict[str, type[Envelope]] = {
    event.model_fields["type"].default: event for topic in TOPICS for event in topic.events
}

# Built from TOPICS so the union can never miss an event the table lists.
AnyEvent = Annotated[Union[tuple(EVENT_TYPES.values())], Field(discriminator="type")]  # noqa: UP007

_any_event = TypeAdapter(AnyEvent)


def decode_event(raw: bytes | str) -> Envelope:
    """Parse and validate any event; raises ``pydantic.ValidationError`` on a malformed one."""
    return _any_event.validate_json(raw)


def stream_subjects() -> list[str]:
    return [topic_filter(topic.name) for topic in TOPICS if topic.stored]


def topic_table() -> list[dict[str, Any]]:
    return [
        {
            "subject": f"{topic.name}.<supervisor_id>.<agent_id>.<call_id>",
            "payload": ", ".join(event.__name__ for event in topic.events),
            "producers": ", ".join(topic.producers),
            "consumers": topic.readers,
            "guarantee": topic.guarantee,
            "description": topic.description,
        }
        for topic in TOPICS
    ]
