"""Voice calls by voice: a customer in the call's room (the real rtc SDK, inside the test network
namespace) speaks a question made with the offline voice at test time; the agent-worker hears it
(offline Whisper), answers aloud (Piper) and every line reaches the bus as a transcript chunk. A
whisper pause and inject round trip, and a customer speaking over the agent, are done by voice too.

What the customer hears is checked twice: it is not silence, and offline Whisper hears in it the words
of the agent's transcript line."""

from __future__ import annotations

import asyncio
import re
import time
import uuid

from livekit import rtc

from agent_worker.session import PAUSE_LINE, RESUME_LINE
from agent_worker.whisper_stt import WhisperSTT
from contracts.whisper import WhisperInject, WhisperPause
from tests.integration.test_gateway_streams import SseEvent, SseReader
from tests.integration.test_voice_rooms import VoicePlatform, supervisor_bus, transcript, until_ended, voice_call
from tests.integration.test_voice_rooms import voice as voice  # the fixture
from tests.pg import connection
from tests.voice_customer import on_the_phone
from tests.waiting import eventually

# Two cores run the room server, Whisper, the brain and Piper for both sides: generous, but bounded.
TURN_WAIT = 45.0
LONG_GREETING = ("Hello, and thank you for calling the voice desk. Before we start, please have your order "
                 "number ready, it begins with the letters O R D. We can help with deliveries, refunds, "
                 "changes of address and anything else about your orders. Calls may be recorded for quality "
                 "and training. Now, how can I help you today?")


async def next_line(events: SseReader, speaker: str, containing: str = "", within: float = TURN_WAIT) -> SseEvent:
    deadline = time.monotonic() + within
    while True:
        event = await events.next(within=max(0.1, deadline - time.monotonic()))
        if event.event == "transcript.chunk" and event.data["speaker"] == speaker \
                and containing.lower() in event.data["text"].lower():
            return event


def words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower().replace("ord-", "ord ")))


def share_of_words(line: str, heard: str) -> float:
    """How much of ``line`` is in ``heard``: the share of its words."""
    return len(words(line) & words(heard)) / len(words(line))


async def heard_as(frames: list[rtc.AudioFrame], line: str) -> float:
    """The share of the line's words offline Whisper hears in the audio (in a thread: the microphone
    and the ear keep time on this loop)."""
    return share_of_words(line, (await asyncio.to_thread(WhisperSTT().transcribe, frames)).text)


async def test_a_customer_asks_by_voice_and_hears_the_answer_and_a_whisper_round_trip(
        voice: VoicePlatform, isolated_database_url: str) -> None:
    async with voice_call(voice) as (call, events):
        async with on_the_phone(call["livekit"]) as (microphone, ear):
            call_id = uuid.UUID(call["call_id"])
            greeting = await next_line(events, "agent", within=60)
            # Half the words: the greeting's audio reached the customer (Whisper tiny, and a busy machine
            # that can drop a frame, hear the rest less surely).
            assert await heard_as(await ear.speech(after=0, within=60), greeting.data["text"]) >= 0.5

            asked = (await microphone.say("Hi, where is my order ORD-1042?")).started
            question = await next_line(events, "customer")
            assert "ORD-1042" in question.data["text"]  # Whisper's "or D-1042" normalised for the brain
            answer = await next_line(events, "agent", "ORD-1042")
            assert "shipped" in answer.data["text"].lower()
            assert await heard_as(await ear.speech(after=asked + 1), answer.data["text"]) >= 0.6

            # The supervisor whispers: the agent says its excuse aloud and falls silent; what the customer
            # says meanwhile is transcribed at once and answered only after the inject.
            ids = {"supervisor_id": voice.supervisor_id, "agent_id": voice.agent_id, "call_id": call_id}
            async with supervisor_bus(voice) as bus:
                paused_at = time.monotonic()
                await bus.publish(WhisperPause(**ids, requested_by=voice.supervisor_id))
                await next_line(events, "agent", PAUSE_LINE[:20])
                assert await heard_as(await ear.speech(after=paused_at), PAUSE_LINE) >= 0.6
                await microphone.say("Can you also check order ORD-2001?")
                held = await next_line(events, "customer", "2001")
                assert "ORD-2001" in held.data["text"]
                quiet_since = time.monotonic()
                await asyncio.sleep(3)
                assert ear.silent_from(quiet_since, quiet=2.5) is not None, "the agent answered during the pause"
                await bus.publish(WhisperInject(**ids, requested_by=voice.supervisor_id,
                                                instructions="Offer free shipping on the next order."))
                await next_line(events, "agent", RESUME_LINE)
                resumed = await next_line(events, "agent", "ORD-2001")
                assert "processing" in resumed.data["text"].lower()
        assert (await until_ended(events)).data["reason"] == "customer_hangup"
    speakers = [speaker for speaker, _ in await transcript(isolated_database_url, call_id)]
    assert speakers[:3] == ["agent", "customer", "agent"] and speakers.count("customer") == 2


async def test_a_customer_speaking_over_the_agent_stops_its_speech(
        voice: VoicePlatform, isolated_database_url: str) -> None:
    async with connection(isolated_database_url) as conn:
        await conn.execute("update agents set greeting = $2 where id = $1", voice.agent_id, LONG_GREETING)
    async with voice_call(voice) as (call, events), on_the_phone(call["livekit"]) as (microphone, ear):
        await next_line(events, "agent", within=60)
        # The greeting is playing (it lasts some 15 s): the customer cuts in after four seconds (in its
        # first three, livekit-agents lets nobody interrupt while its echo cancellation warms up).
        await ear.sound(after=0, within=60)
        await asyncio.sleep(4)

        interrupted = (await microphone.say("Sorry, where is my order ORD-3003?")).started
        stopped = await eventually(lambda: ear.silent_from(interrupted), within=8)
        assert stopped - interrupted < 3.0, "the agent kept talking over the customer"
        answer = await next_line(events, "agent", "ORD-3003")  # and what they said is answered
        assert "delivered" in answer.data["text"].lower()
