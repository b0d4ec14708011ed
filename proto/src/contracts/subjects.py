"""The subject scheme: ``<topic>.<supervisor_id>.<agent_id>.<call_id>``.

Every topic has exactly two tokens, so a fixed position holds the supervisor and the gateway can
subscribe per supervisor (``*.*.<supervisor>.>``) or per agent (``*.*.<supervisor>.<agent>.*``)
with wildcards: authorization follows the subject, not a filter applied after the fact.
A missing agent or call is written as ``_``.
"""

from __future__ import annotations

from uuid import UUID

NO_ID = "_"
CALLS_STREAM = "CALLS"
DEADLETTER_STREAM = "DEADLETTER"
DEADLETTER_PREFIX = "deadletter"
# A dead letter sent again to the one consumer that gave up on it: replay.<consumer>.<original subject>
# (in the CALLS stream, so the consumer takes it in order; no other consumer or browser sees it).
REPLAY_PREFIX = "replay"
HEALTH_BUCKET = "service_health"


def _token(value: UUID | None) -> str:
    return NO_ID if value is None else str(value)


def subject_for(topic: str, supervisor_id: UUID, agent_id: UUID | None, call_id: UUID | None) -> str:
    return f"{topic}.{supervisor_id}.{_token(agent_id)}.{_token(call_id)}"


def call_token(subject: str) -> str:
    """The call a subject is about (its last token; ``_`` for none)."""
    return subject.rsplit(".", 1)[-1]


def topic_filter(topic: str) -> str:
    return f"{topic}.>"


def supervisor_topic_filter(topic: str, supervisor_id: UUID) -> str:
    return f"{topic}.{supervisor_id}.>"


def supervisor_filter(supervisor_id: UUID) -> str:
    return f"*.*.{supervisor_id}.>"


def agent_filter(supervisor_id: UUID, agent_id: UUID) -> str:
    return f"*.*.{supervisor_id}.{agent_id}.*"


def call_filter(supervisor_id: UUID, agent_id: UUID, call_id: UUID) -> str:
    return f"*.*.{supervisor_id}.{agent_id}.{call_id}"


def deadletter_subject(consumer: str) -> str:
    return f"{DEADLETTER_PREFIX}.{consumer}"


def replay_subject(consumer: str, original_subject: str) -> str:
    return f"{REPLAY_PREFIX}.{consumer}.{original_subject}"


def replay_filter(consumer: str) -> str:
    return f"{REPLAY_PREFIX}.{consumer}.>"
