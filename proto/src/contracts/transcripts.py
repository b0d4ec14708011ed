"""Every utterance of the customer, the agent, and a supervisor who took the call over, in order."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field, NonNegativeInt

from contracts.calls import CallScoped

Speaker = Literal["customer", "agent", "supervisor", "system"]


class TranscriptChunk(CallScoped):
    topic: ClassVar[str] = "transcript.chunk"
    type: Literal["transcript.chunk"] = "transcript.chunk"
    seq: NonNegativeInt = Field(description="Position in the call's transcript, from 0.")
    speaker: Speaker
    text: str = Field(min_length=1, max_length=8000)
    brain: str | None = Field(default=None, description="Dialogue engine, on agent utterances.")
