"""The hosted speech path (Whisper on Groq, Gemini's speech model) with the real plugins and SDKs
pointed at local servers that speak those services' HTTP protocols, built from the settings as the
worker builds them (agent_worker.speech)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import APIConnectionError, APIConnectOptions, APIStatusError, stt, tts

from agent_worker.config import Settings
from agent_worker.hosted_speech import hosted_tts
from agent_worker.piper_voice import PiperTTS
from agent_worker.speech import speech_to_text, text_to_speech
from agent_worker.whisper_stt import WhisperSTT
from tests.fakes.speech_servers import (
    GEMINI_TTS_SAMPLE_RATE,
    SECONDS_PER_CHARACTER,
    FakeGeminiSpeech,
    FakeGroqTranscriptions,
)
from tests.integration.conftest import serve

GROQ_KEY = "fake-groq-key"
GEMINI_KEY = "fake-gemini-key"
TRANSCRIPT = "Where is my parcel?"
SENTENCE = "Your order ORD-1042 was shipped yesterday and arrives on Friday."
WAIT = 20.0  # seconds, for any one plugin call against a local server
QUICK_RETRIES = APIConnectOptions(max_retry=2, retry_interval=0.1, timeout=5.0)


@pytest.fixture
async def groq() -> AsyncIterator[tuple[FakeGroqTranscriptions, stt.STT]]:
    fake = FakeGroqTranscriptions(TRANSCRIPT)
    served = serve(fake.app())
    # GROQ_BASE_URL as the groq SDK takes it (the host), which the summaries use too
    recognizer = speech_to_text(Settings(groq_api_key=GROQ_KEY, groq_base_url=served.url))
    try:
        yield fake, recognizer
    finally:
        await recognizer.aclose()
        served.stop()


def utterance(seconds: float = 1.0, sample_rate: int = 48000) -> list[rtc.AudioFrame]:
    """Room audio in 20 ms frames, as a participant's track delivers it (a tone: the fake scripts the words)."""
    samples = (0.2 * np.sin(2 * np.pi * 220 * np.arange(int(seconds * sample_rate)) / sample_rate) * 32767)
    pcm = samples.astype(np.int16)
    step = sample_rate // 50
    return [rtc.AudioFrame(pcm[start:start + step].tobytes(), sample_rate, 1, step)
            for start in range(0, len(pcm), step)]


async def test_whisper_on_groq_transcribes_an_utterance(
        groq: tuple[FakeGroqTranscriptions, stt.STT]) -> None:
    fake, whisper = groq
    event = await asyncio.wait_for(whisper.recognize(utterance()), WAIT)
    assert event.type == stt.SpeechEventType.FINAL_TRANSCRIPT and event.alternatives[0].text == TRANSCRIPT
    [request] = fake.requests
    assert request.api_key == GROQ_KEY
    assert request.fields == {"model": "whisper-large-v3", "language": "en", "response_format": "json"}
    assert (request.filename, request.content_type) == ("file.wav", "audio/wav")
    assert request.seconds == pytest.approx(1.0)  # the whole utterance, as one WAV file


async def test_whisper_needs_a_vad_to_serve_a_live_call(groq: tuple[FakeGroqTranscriptions, stt.STT]) -> None:
    _, whisper = groq
    # A session's STT node wraps a non-streaming STT in a StreamAdapter over the session's VAD.
    assert not whisper.capabilities.streaming


async def test_a_rate_limit_is_retried_without_waiting_for_its_retry_after(
        groq: tuple[FakeGroqTranscriptions, stt.STT]) -> None:
    fake, whisper = groq
    fake.failures, fake.retry_after_seconds = [429, 500], 60
    event = await asyncio.wait_for(whisper.recognize(utterance(), conn_options=QUICK_RETRIES), WAIT)
    assert event.alternatives[0].text == TRANSCRIPT and len(fake.requests) == 3


async def test_failures_beyond_the_retries_surface_as_a_connection_error(
        groq: tuple[FakeGroqTranscriptions, stt.STT]) -> None:
    fake, whisper = groq
    fake.failures = [500, 429, 500]
    with pytest.raises(APIConnectionError, match="after 3 attempts") as failed:
        await asyncio.wait_for(whisper.recognize(utterance(), conn_options=QUICK_RETRIES), WAIT)
    assert isinstance(failed.value.__cause__, APIStatusError) and failed.value.__cause__.status_code == 500
    assert len(fake.requests) == 3


async def test_a_refused_key_is_not_retried(
        groq: tuple[FakeGroqTranscriptions, stt.STT]) -> None:
    fake, whisper = groq
    fake.failures = [401]
    with pytest.raises(APIStatusError) as failed:
        await asyncio.wait_for(whisper.recognize(utterance(), conn_options=QUICK_RETRIES), WAIT)
    assert failed.value.status_code == 401 and len(fake.requests) == 1


@pytest.fixture
async def gemini_speech() -> AsyncIterator[tuple[FakeGeminiSpeech, tts.TTS]]:
    fake = FakeGeminiSpeech()
    served = serve(fake.app())
    speaker = text_to_speech(Settings(gemini_api_key=GEMINI_KEY, gemini_base_url=served.url, tts_voice="Puck"))
    try:
        yield fake, speaker
    finally:
        await speaker.aclose()
        served.stop()


async def test_gemini_speaks_a_sentence(gemini_speech: tuple[FakeGeminiSpeech, tts.TTS]) -> None:
    fake, speaker = gemini_speech
    async with asyncio.timeout(WAIT):
        frame = await speaker.synthesize(SENTENCE).collect()
    assert (frame.sample_rate, frame.num_channels) == (GEMINI_TTS_SAMPLE_RATE, 1) == (speaker.sample_rate, 1)
    samples = np.frombuffer(frame.data, dtype=np.int16)
    assert np.abs(samples).max() > 5000  # the tone, not silence
    [request] = fake.requests
    assert (request.model, request.voice, request.api_key) == ("gemini-2.5-flash-preview-tts", "Puck", GEMINI_KEY)
    assert request.response_modalities == ["AUDIO"] and SENTENCE in request.text
    # As long as the fake's reading of the whole request, preamble included: no audio was dropped.
    assert frame.duration == pytest.approx(len(request.text) * SECONDS_PER_CHARACTER, abs=0.05)


async def test_without_a_base_url_gemini_speech_goes_where_the_sdk_variable_says(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeGeminiSpeech()
    served = serve(fake.app())
    monkeypatch.setenv("GOOGLE_GEMINI_BASE_URL", served.url)
    speaker = hosted_tts(GEMINI_KEY)
    try:
        async with asyncio.timeout(WAIT):
            await speaker.synthesize(SENTENCE).collect()
    finally:
        await speaker.aclose()
        served.stop()
    assert [(r.model, r.voice) for r in fake.requests] == [("gemini-2.5-flash-preview-tts", "Kore")]


async def test_gemini_speech_retries_a_rate_limit_and_a_server_error(
        gemini_speech: tuple[FakeGeminiSpeech, tts.TTS]) -> None:
    fake, speaker = gemini_speech
    fake.failures = [429, 500]
    async with asyncio.timeout(WAIT):
        frame = await speaker.synthesize(SENTENCE, conn_options=QUICK_RETRIES).collect()
    assert frame.duration > 1 and len(fake.requests) == 3


async def test_gemini_speech_gives_up_with_the_last_failure(gemini_speech: tuple[FakeGeminiSpeech, tts.TTS]) -> None:
    # Unlike the STT's recognize(), which wraps it in an APIConnectionError.
    fake, speaker = gemini_speech
    fake.failures = [429, 429, 429]
    with pytest.raises(APIStatusError) as failed:
        async with asyncio.timeout(WAIT):
            await speaker.synthesize(SENTENCE, conn_options=QUICK_RETRIES).collect()
    assert failed.value.status_code == 429 and failed.value.retryable and len(fake.requests) == 3


def test_without_keys_voice_calls_use_the_offline_models() -> None:
    settings = Settings()
    assert isinstance(speech_to_text(settings), WhisperSTT) and isinstance(text_to_speech(settings), PiperTTS)
    assert (settings.speech_to_text, settings.text_to_speech) == ("local faster-whisper tiny.en",
                                                                  "local piper joe (GPL-3.0)")
    hosted = Settings(groq_api_key=GROQ_KEY, gemini_api_key=GEMINI_KEY)
    assert (hosted.speech_to_text, hosted.text_to_speech) == ("groq whisper-large-v3",
                                                              "gemini gemini-2.5-flash-preview-tts (Kore)")
