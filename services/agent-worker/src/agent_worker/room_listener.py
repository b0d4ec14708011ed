"""Hearing one more participant of a call's room: what they say, transcribed as the customer's speech is
(Silero and the session's STT, the same normalisation), handed line by line to a callback. The call's
AgentSession hears only the customer; a supervisor who took a voice call over is heard through this.

A line ends where the speaker pauses for a second (the voice's ``line_vad``), longer than the
customer's end of turn: nothing answers this speaker, and a sentence with a comma in it stays one line.

The participant may join, publish their microphone, drop out and come back at any time while the
listener runs: whenever a microphone track of theirs is subscribed (the job's room subscribes to every
track), it is transcribed until it goes away. Each track gets its own recognition stream: a VAD stream
keeps the state of one audio source, and offline Whisper, which does not stream, is cut into
lines by the VAD (livekit-agents' own ``stt.StreamAdapter``, as the AgentSession does).

When the listener closes (the call handed back) or a track goes, a line still being said is let
finish and handed over: the VAD drops speech it never saw end, so the speaker's words at the instant
of the hand-back would otherwise be lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from livekit import rtc
from livekit.agents import stt

from agent_worker.offline_speech import LINE_PAUSE_SECONDS
from agent_worker.speech import VoiceIO
from agent_worker.spoken_text import normalise_transcript

log = logging.getLogger("agent_worker.room_listener")
SAMPLE_RATE = 16000  # what Silero and Whisper work at: the SDK resamples the track once, on its side
# On close, a line being said is let finish and is still handed over (a supervisor who hands back
# while speaking); a speaker who does not pause must not hold the hand-back longer than this, nor
# must a recogniser that hangs.
DRAIN_SECONDS = 10.0
# On close, how long audio still on its way is heard before deciding whether a line is being said:
# the room forwards it a fraction of a second late, more on a busy machine.
IN_FLIGHT_SECONDS = 1.0
# A pause that ends a line, pushed after the last audio: the VAD drops speech it never saw end.
LINE_END = rtc.AudioFrame.create(SAMPLE_RATE, 1, int(SAMPLE_RATE * (LINE_PAUSE_SECONDS + 0.5)))


@dataclass
class _Heard:
    """One microphone track being transcribed: its audio pushed into a recognition stream, whose lines
    are handed over."""

    recognizer: stt.RecognizeStream
    feeding: asyncio.Task[None]
    transcribing: asyncio.Task[None]
    between_lines: asyncio.Event  # not in the middle of a line (as the VAD heard it)


@dataclass
class RoomListener:
    room: rtc.Room
    identity: str  # the participant heard
    voice: VoiceIO  # the session's ears: its STT, and the VAD that cuts lines
    heard: Callable[[str], Awaitable[None]]  # each line they said, in order
    log_extra: dict[str, str] = field(default_factory=dict)
    _recognition: stt.STT | None = None
    _tracks: dict[str, _Heard] = field(default_factory=dict)
    _stopping: set[asyncio.Task[None]] = field(default_factory=set)

    def start(self) -> None:
        ears = self.voice.stt
        self._recognition = ears if ears.capabilities.streaming else stt.StreamAdapter(stt=ears,
                                                                                      vad=self.voice.line_vad)
        self.room.on("track_subscribed", self._on_track)
        self.room.on("track_unsubscribed", self._on_track_gone)
        if (participant := self.room.remote_participants.get(self.identity)) is not None:
            for publication in participant.track_publications.values():
                if publication.track is not None:
                    self._on_track(publication.track, publication, participant)

    async def close(self) -> None:
        """Stop listening; a line being recognised when it stops is still handed over."""
        self.room.off("track_subscribed", self._on_track)
        self.room.off("track_unsubscribed", self._on_track_gone)
        tracks, self._tracks = list(self._tracks.values()), {}
        await asyncio.gather(*(self._stop(heard) for heard in tracks), *self._stopping)
        if isinstance(self._recognition, stt.StreamAdapter):
            await self._recognition.aclose()

    def _on_track(self, track: rtc.Track, publication: rtc.RemoteTrackPublication,
                  participant: rtc.RemoteParticipant) -> None:
        if (self._recognition is None or participant.identity != self.identity
                or track.kind != rtc.TrackKind.KIND_AUDIO or publication.source != rtc.TrackSource.SOURCE_MICROPHONE
                or publication.sid in self._tracks):
            return
        recognizer = self._recognition.stream()
        audio = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
        between_lines = asyncio.Event()
        between_lines.set()
        self._tracks[publication.sid] = _Heard(recognizer, asyncio.create_task(self._feed(audio, recognizer)),
                                               asyncio.create_task(self._transcribe(recognizer, between_lines)),
                                               between_lines)
        log.info("listening to %s", self.identity, extra=self.log_extra)

    def _on_track_gone(self, _track: rtc.Track, publication: rtc.RemoteTrackPublication,
                       participant: rtc.RemoteParticipant) -> None:
        if participant.identity == self.identity and (heard := self._tracks.pop(publication.sid, None)):
            stopping = asyncio.create_task(self._stop(heard))
            self._stopping.add(stopping)
            stopping.add_done_callback(self._stopping.discard)

    @staticmethod
    async def _stop(heard: _Heard) -> None:
        # A line being said goes on until the speaker pauses (or their track ends), as it would have.
        await asyncio.wait([heard.feeding], timeout=IN_FLIGHT_SECONDS)
        paused = asyncio.create_task(heard.between_lines.wait())
        await asyncio.wait([paused, heard.feeding], timeout=DRAIN_SECONDS, return_when=asyncio.FIRST_COMPLETED)
        paused.cancel()
        heard.feeding.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heard.feeding
        heard.recognizer.push_frame(LINE_END)  # a line cut short (the track gone, no pause) still ends
        heard.recognizer.end_input()  # the lines the VAD cut off are recognised, then the stream ends
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(heard.transcribing), DRAIN_SECONDS)
        heard.transcribing.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await heard.transcribing
        await heard.recognizer.aclose()

    @staticmethod
    async def _feed(audio: rtc.AudioStream, recognizer: stt.RecognizeStream) -> None:
        try:
            async for event in audio:
                recognizer.push_frame(event.frame)
        finally:
            await audio.aclose()

    async def _transcribe(self, recognizer: stt.RecognizeStream, between_lines: asyncio.Event) -> None:
        async for event in recognizer:
            if event.type == stt.SpeechEventType.START_OF_SPEECH:
                between_lines.clear()
            elif event.type == stt.SpeechEventType.END_OF_SPEECH:
                between_lines.set()
            if event.type != stt.SpeechEventType.FINAL_TRANSCRIPT or not event.alternatives:
                continue
            if text := normalise_transcript(event.alternatives[0].text).strip():
                try:
                    await self.heard(text)
                except Exception:
                    log.exception("a line heard from %s was lost", self.identity, extra=self.log_extra)
