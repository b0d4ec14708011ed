"""The hosted speech path of voice calls: Whisper large v3 on Groq hears the customer, Gemini's
speech model speaks the agent's replies.

Groq's STT is not streaming: it transcribes one finished utterance per request, so an AgentSession
using it needs a VAD (``AgentSession(vad=...)``) to cut the room's audio into utterances; without one,
the session's STT node raises "does not support streaming". Gemini's TTS is not streaming either: the
session synthesizes the reply sentence by sentence.

The plugins are imported here, at module level, because livekit-agents refuses to register a plugin
from any thread but the main one: import this module from the main thread before building a session.
"""

from __future__ import annotations

from google import genai
from google.genai import types
from livekit.agents import stt, tts
from livekit.plugins import groq
from livekit.plugins.google import beta as google_beta

STT_MODEL = "whisper-large-v3"
TTS_MODEL = "gemini-2.5-flash-preview-tts"
TTS_VOICE = "Kore"


def hosted_stt(api_key: str, model: str = STT_MODEL, base_url: str | None = None) -> stt.STT:
    """Groq's Whisper, over its OpenAI-compatible API: Groq's own, or ``base_url`` (ending in
    /openai/v1, as Groq's https://api.groq.com/openai/v1 does).

    The key goes as a bearer token. The plugin's client does not retry by itself: ``recognize`` retries
    a 429 (ignoring its Retry-After) or a 5xx per its conn_options, then raises APIConnectionError; any
    other 4xx (a refused key) raises APIStatusError at once.
    """
    return groq.STT(model=model, api_key=api_key, **({"base_url": base_url} if base_url else {}))


def hosted_tts(api_key: str, model: str = TTS_MODEL, voice: str = TTS_VOICE, base_url: str | None = None) -> tts.TTS:
    """Gemini's speech generation: 16-bit PCM at 24 kHz, mono. The key goes as x-goog-api-key.

    The plugin takes no endpoint of its own: the google-genai client it builds goes to
    GOOGLE_GEMINI_BASE_URL when that is set, else to Google. A ``base_url`` given here wins, as the
    Gemini brain's does (calls.build_model). A 429 or a 5xx is retried per the synthesis' conn_options;
    the last failure surfaces as APIStatusError.
    """
    # vertexai=False: GOOGLE_GENAI_USE_VERTEXAI in the environment would otherwise switch to Vertex AI,
    # which takes no API key.
    speech = google_beta.GeminiTTS(model=model, voice_name=voice, api_key=api_key, vertexai=False)
    if base_url:
        # The only seam: the plugin keeps its client in _client and uses nothing else to reach Gemini.
        speech._client = genai.Client(api_key=api_key, http_options=types.HttpOptions(base_url=base_url))
    return speech
