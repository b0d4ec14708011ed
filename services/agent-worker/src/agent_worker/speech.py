"""How a voice call hears and speaks, chosen per component from the settings: Whisper large v3 on Groq
(GROQ_API_KEY) or offline Whisper; Gemini's speech model (GEMINI_API_KEY) or offline Piper. The VAD
and the end of turn are always local: Silero, whose silence ends the turn (or livekit's local turn
detector: AGENT_WORKER_TURN_END=turn-detector).

The hosted modules are imported only when configured (livekit-agents registers a plugin from the main
thread only: prepare_speech runs in the job process's setup, on its main thread).
"""

from __future__ import annotations

from dataclasses import dataclass

from livekit.agents import TurnHandlingOptions, stt, tts, vad

from agent_worker.config import Settings
from agent_worker.offline_speech import (
    LINE_PAUSE_SECONDS,
    load_offline_speech,
    offline_stt,
    offline_tts,
    offline_turn_handling,
    offline_vad,
)


@dataclass(frozen=True)
class VoiceIO:
    """What a voice call adds to a session: ears, a voice, and when the customer's turn is over (and
    another speaker's line: ``line_vad``)."""

    stt: stt.STT
    tts: tts.TTS
    vad: vad.VAD
    turn_handling: TurnHandlingOptions
    line_vad: vad.VAD


def prepare_speech(settings: Settings) -> None:
    """Once per job process, before its first call: load (and warm up) the offline models in use, and
    import the hosted plugins in use."""
    if settings.groq_api_key or settings.gemini_api_key:
        import agent_worker.hosted_speech  # noqa: F401  (registers its plugins, on this main thread)
    load_offline_speech(listen=not settings.groq_api_key, speak=not settings.gemini_api_key,
                        turn_end=settings.turn_end)


def voice_io(settings: Settings) -> VoiceIO:
    return VoiceIO(stt=speech_to_text(settings), tts=text_to_speech(settings), vad=offline_vad(),
                   turn_handling=offline_turn_handling(settings.turn_end),
                   line_vad=offline_vad(min_silence_duration=LINE_PAUSE_SECONDS))


def speech_to_text(settings: Settings) -> stt.STT:
    if settings.groq_api_key:
        from agent_worker.hosted_speech import hosted_stt

        # GROQ_BASE_URL is the groq SDK's host (as for the summaries); the plugin wants its OpenAI path
        base_url = f"{settings.groq_base_url.rstrip('/')}/openai/v1" if settings.groq_base_url else None
        return hosted_stt(settings.groq_api_key, settings.stt_model, base_url)
    return offline_stt(beam_size=settings.whisper_beam_size)


def text_to_speech(settings: Settings) -> tts.TTS:
    if settings.gemini_api_key:
        from agent_worker.hosted_speech import hosted_tts

        return hosted_tts(settings.gemini_api_key, settings.tts_model, settings.tts_voice, settings.gemini_base_url)
    return offline_tts()
