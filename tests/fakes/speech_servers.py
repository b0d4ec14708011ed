"""Local servers speaking the HTTP protocols of the hosted speech services, so the real SDKs and
livekit plugins run against them:

- Groq's OpenAI-compatible transcriptions (POST /openai/v1/audio/transcriptions, a multipart upload):
  each request gets the scripted transcript, or the next scripted failure (an HTTP status);
- Gemini's speech generation (POST /{version}/models/{model}:streamGenerateContent?alt=sse): a
  tone as long as reading the text would take, streamed as base64 16-bit PCM at 24 kHz in inline
  data, or the next scripted failure.

Requests are kept for the tests to inspect.
"""

from __future__ import annotations

import base64
import io
import wave
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from tests.fakes.llm_servers import sse

GEMINI_TTS_SAMPLE_RATE = 24000
GEMINI_TTS_MIME_TYPE = f"audio/L16;codec=pcm;rate={GEMINI_TTS_SAMPLE_RATE}"
SECONDS_PER_CHARACTER = 0.06  # about how fast a voice reads
AUDIO_CHUNK_SECONDS = 0.5  # Gemini streams speech in several chunks


@dataclass
class Transcription:
    """What a transcription request carried."""

    api_key: str
    fields: dict[str, str]  # model, language, response_format, ...
    filename: str
    content_type: str
    audio: bytes

    @property
    def seconds(self) -> float:
        with wave.open(io.BytesIO(self.audio)) as wav:
            return wav.getnframes() / wav.getframerate()


@dataclass
class FakeGroqTranscriptions:
    """``failures``: HTTP statuses answered, in order, before the transcript (429 with Retry-After)."""

    transcript: str
    failures: list[int] = field(default_factory=list)
    retry_after_seconds: float = 0.1
    requests: list[Transcription] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/openai/v1/audio/transcriptions")
        async def transcribe(request: Request) -> Any:
            form = await request.form()
            upload = form["file"]
            assert not isinstance(upload, str), "the audio comes as a file part"
            self.requests.append(Transcription(
                api_key=request.headers.get("authorization", "").removeprefix("Bearer "),
                fields={name: value for name, value in form.items() if isinstance(value, str)},
                filename=upload.filename or "", content_type=upload.content_type or "", audio=await upload.read()))
            if self.failures:
                status = self.failures.pop(0)
                headers = {"retry-after": str(self.retry_after_seconds)} if status == 429 else {}
                # Groq's error body (OpenAI's shape)
                return JSONResponse({"error": {"message": f"scripted failure {status}", "type": "fake_error"}},
                                    status, headers=headers)
            if form.get("response_format") == "verbose_json":
                return {"task": "transcribe", "language": form.get("language") or "english",
                        "duration": self.requests[-1].seconds,
                        "text": self.transcript, "segments": []}
            return {"text": self.transcript, "x_groq": {"id": "req_fake"}}

        return app


@dataclass
class Synthesis:
    """What a speech generation request carried."""

    api_key: str
    model: str
    voice: str | None
    text: str
    response_modalities: list[str] | None


# Google's status names for the HTTP statuses the tests script.
GOOGLE_STATUS = {429: "RESOURCE_EXHAUSTED", 500: "INTERNAL"}


@dataclass
class FakeGeminiSpeech:
    """``failures``: HTTP statuses answered, in order, before speaking."""

    failures: list[int] = field(default_factory=list)
    requests: list[Synthesis] = field(default_factory=list)

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/{version}/models/{model_and_method:path}")
        async def generate(version: str, model_and_method: str, request: Request) -> Any:
            model, _, method = model_and_method.partition(":")
            if method != "streamGenerateContent":
                return JSONResponse({"error": {"code": 400, "message": f"this fake streams only, not {method}",
                                               "status": "INVALID_ARGUMENT"}}, 400)
            body = await request.json()
            config = body.get("generationConfig", {})
            text = " ".join(part.get("text", "") for content in body["contents"] for part in content["parts"])
            self.requests.append(Synthesis(
                api_key=request.headers.get("x-goog-api-key", ""), model=model, text=text,
                voice=proto_path(config, "speechConfig", "voiceConfig", "prebuiltVoiceConfig", "voiceName"),
                response_modalities=proto_path(config, "responseModalities")))
            if self.failures:
                status = self.failures.pop(0)
                return JSONResponse({"error": {"code": status, "message": f"scripted failure {status}",
                                               "status": GOOGLE_STATUS[status]}}, status)
            if self.requests[-1].response_modalities != ["AUDIO"]:
                return JSONResponse({"error": {"code": 400, "message": "a speech model answers in AUDIO only",
                                               "status": "INVALID_ARGUMENT"}}, 400)
            return sse(self._chunks(model, spoken(text)))

        return app

    def _chunks(self, model: str, pcm: bytes) -> Any:
        step = int(AUDIO_CHUNK_SECONDS * GEMINI_TTS_SAMPLE_RATE) * 2
        pieces = [pcm[start:start + step] for start in range(0, len(pcm), step)]
        for i, piece in enumerate(pieces):
            candidate: dict[str, Any] = {"index": 0, "content": {"role": "model", "parts": [
                {"inlineData": {"mimeType": GEMINI_TTS_MIME_TYPE, "data": base64.b64encode(piece).decode()}}]}}
            if i == len(pieces) - 1:
                candidate["finishReason"] = "STOP"
            yield {"candidates": [candidate], "modelVersion": model,
                   "usageMetadata": {"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 15}}


def proto_path(message: dict[str, Any], *names: str) -> Any:
    """A (nested) field of a request by its JSON names, found under either spelling Gemini reads: the
    SDK sends speechConfig's inner fields by their proto names (voice_config, voice_name)."""
    for name in names:
        snake = "".join(f"_{c.lower()}" if c.isupper() else c for c in name)
        message = message.get(name, message.get(snake)) if isinstance(message, dict) else None
    return message


def spoken(text: str) -> bytes:
    """A 440 Hz tone as long as reading the text would take: 16-bit little-endian mono PCM."""
    samples = int(max(len(text), 1) * SECONDS_PER_CHARACTER * GEMINI_TTS_SAMPLE_RATE)
    tone = 0.3 * np.sin(2 * np.pi * 440 * np.arange(samples) / GEMINI_TTS_SAMPLE_RATE)
    return (tone * 32767).astype("<i2").tobytes()
