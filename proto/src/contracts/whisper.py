"""Supervisor whisper: pause the agent, inject instructions, and the agent's acknowledgements."""

from __future__ import annotations

from typing import ClassVar, Literal
from uuid import UUID

from pydantic import Field

from contracts.calls import CallScoped


class WhisperPause(CallScoped):
    topic: ClassVar[str] = "whisper.command"
    type: Literal["whisper.pause"] = "whisper.pause"
    requested_by: UUID


class WhisperInject(CallScoped):
    topic: ClassVar[str] = "whisper.command"
    type: Literal["whisper.inject"] = "whisper.inject"
    requested_by: UUID
    instructions: str = Field(min_length=1, max_length=4000)


class WhisperAck(CallScoped):
    """Seen by the supervisor only, never by the customer."""

    topic: ClassVar[str] = "whisper.ack"
    type: Literal["whisper.ack"] = "whisper.ack"
    stage: Literal["paused", "received", "resumed"]
    message: str = Field(max_length=1000)
