from __future__ import annotations

import uuid

import pytest
from pydantic import ValidationError

from contracts.calls import CustomerMessage
from contracts.examples import example_events
from contracts.registry import EVENT_TYPES, TOPICS, decode_event
from contracts.schema_gen import asyncapi_document, stale_files


def test_generated_schema_files_are_up_to_date() -> None:
    assert stale_files() == [], "run `make gen` and commit the result"


def test_every_topic_has_two_tokens_and_every_event_one_topic() -> None:
    assert all(len(topic.name.split(".")) == 2 for topic in TOPICS)
    events = [event for topic in TOPICS for event in topic.events]
    assert len(events) == len(set(events)) == len(EVENT_TYPES)
    assert all(event.topic == topic.name for topic in TOPICS for event in topic.events)


@pytest.mark.parametrize("event", example_events(), ids=lambda e: e.type)
def test_every_event_survives_encoding(event) -> None:  # type: ignore[no-untyped-def]
    assert decode_event(event.model_dump_json()) == event


def test_decoding_rejects_unknown_types_extra_fields_and_naive_times() -> None:
    good = CustomerMessage(supervisor_id=uuid.uuid4(), agent_id=uuid.uuid4(), call_id=uuid.uuid4(), text="hi")
    payload = good.model_dump(mode="json")
    with pytest.raises(ValidationError, match="does not match any of the expected tags"):
        decode_event(str(payload | {"type": "call.exploded"}).replace("'", '"'))
    for broken in (payload | {"extra": 1}, payload | {"occurred_at": "2026-01-01T10:00:00"},
                   payload | {"text": ""}, {k: v for k, v in payload.items() if k != "supervisor_id"}):
        with pytest.raises(ValidationError):
            CustomerMessage.model_validate(broken)


def test_asyncapi_document_references_resolve() -> None:
    document = asyncapi_document()
    assert document["asyncapi"].startswith("3.")
    schemas = document["components"]["schemas"]
    messages = document["components"]["messages"]
    for channel in document["channels"].values():
        for ref in channel["messages"].values():
            name = ref["$ref"].rsplit("/", 1)[1]
            assert messages[name]["payload"]["$ref"].rsplit("/", 1)[1] in schemas
