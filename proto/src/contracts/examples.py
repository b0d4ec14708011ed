"""One realistic example of every event: embedded in the AsyncAPI document and round-tripped in tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID, uuid5

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
from contracts.tools import ToolExecuted, ToolPermissionDecision, ToolPermissionRequest
from contracts.transcripts import TranscriptChunk
from contracts.whisper import WhisperAck, WhisperInject, WhisperPause

EXAMPLE_SUPERVISOR = UUID("11111111-1111-4111-8111-111111111111")
EXAMPLE_AGENT = UUID("22222222-2222-4222-8222-222222222222")
EXAMPLE_CALL = UUID("33333333-3333-4333-8333-333333333333")
EXAMPLE_REQUEST = UUID("44444444-4444-4444-8444-444444444444")
EXAMPLE_TIME = datetime(2026, 1, 15, 10, 30, tzinfo=UTC)


def example_events(supervisor_id: UUID = EXAMPLE_SUPERVISOR, agent_id: UUID = EXAMPLE_AGENT,
                   call_id: UUID = EXAMPLE_CALL) -> list[Envelope]:
    """Deterministic (generated files stay stable); event ids are derived from the call id, so examples
    built for different calls never collide in JetStream's duplicate window."""
    ids = {"supervisor_id": supervisor_id, "agent_id": agent_id, "call_id": call_id}
    events = [
        CallRequested(**ids, channel="chat", dialled_number="+1-555-0101", caller="jo@example.com"),
        CallQueued(**ids, position=2, reason="agent_busy"),
        CallStarted(**ids, channel="chat", caller="jo@example.com", agent_name="Orders & Shipping",
                    queued_seconds=12.5),
        CustomerMessage(**ids, text="Where is my order ORD-1042?"),
        CustomerPresence(**ids, connected=True),
        CallTakenOver(**ids, by=supervisor_id, by_name="Dana Reyes"),
        SupervisorMessage(**ids, by=supervisor_id, text="Hi, I'm Dana, the team lead. Let me look at this."),
        CallHandedBack(**ids, by=supervisor_id, agent_name="Orders & Shipping"),
        CallHangup(**ids, by="customer"),
        CallEnded(**ids, reason="agent_resolved", ended_by="agent", channel="chat", caller="jo@example.com",
                  started_at=EXAMPLE_TIME, ended_at=EXAMPLE_TIME + timedelta(minutes=4),
                  duration_seconds=240.0, brain="local"),
        AgentStatusChanged(supervisor_id=supervisor_id, agent_id=agent_id, status="busy", queue_length=1),
        TranscriptChunk(**ids, seq=3, speaker="agent", text="Your order ships tomorrow.", brain="local"),
        ToolPermissionRequest(**ids, request_id=EXAMPLE_REQUEST, tool_name="refund_order",
                              arguments={"order_id": "ORD-1042", "amount": 19.99},
                              reason="Customer received a damaged item",
                              expires_at=EXAMPLE_TIME + timedelta(seconds=60)),
        ToolPermissionDecision(**ids, request_id=EXAMPLE_REQUEST, allowed=True, decided_by="supervisor",
                               decided_by_user=supervisor_id, note="OK, damaged on arrival"),
        ToolExecuted(**ids, request_id=EXAMPLE_REQUEST, tool_name="refund_order",
                     arguments={"order_id": "ORD-1042", "amount": 19.99}, ok=True,
                     result={"refund_id": "RF-77", "status": "issued"}),
        WhisperPause(**ids, requested_by=supervisor_id),
        WhisperInject(**ids, requested_by=supervisor_id, instructions="Offer a 10% voucher."),
        WhisperAck(**ids, stage="received", message="Received"),
        SentimentScore(**ids, label="negative", score=-0.42, trend=-0.1, utterances=4, model="minilm-head-v1"),
        SatisfactionScore(**ids, score=2.5, reasons=["customer repeated the question"], source="local"),
        ArchiveSaved(**ids, agent_name="Orders & Shipping", started_at=EXAMPLE_TIME,
                     summary="The customer asked about a late order; it ships tomorrow.",
                     tags=["shipping", "delivery-delay"], csat=4.2, fcr=True, resolved=True, handle_seconds=240.0,
                     sentiment_label="neutral", tool_requests=1, summary_source="local-extractive"),
        FcrRevised(**ids, started_at=EXAMPLE_TIME, repeat_call_id=EXAMPLE_REQUEST),
        LiveCounters(supervisor_id=supervisor_id, active_calls=2, queued_calls=1, agents_total=3, agents_busy=2,
                     longest_wait_seconds=14.0),
        NotificationCreated(supervisor_id=supervisor_id, agent_id=agent_id, call_id=call_id,
                            notification_id=EXAMPLE_REQUEST, kind="tool_permission",
                            title="Refund needs approval", body="refund_order ORD-1042 (19.99)"),
    ]
    return [event.model_copy(update={"event_id": uuid5(call_id, event.type), "occurred_at": EXAMPLE_TIME})
            for event in events]
