"""The customer's side of a voice call for tests and benchmarks: a microphone that says what it is
given with the offline voice (and silence in between, in real time, as a real one does), and an ear on
the agent's audio that knows when it was loud."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import numpy as np
from livekit import rtc

from agent_worker.piper_voice import PiperTTS
from tests.integration.test_voice_rooms import Customer, in_room
from tests.waiting import eventually

RATE = 48000
FRAME = RATE // 100  # 10 ms, as a microphone delivers
LOUD_RMS = 300.0  # int16; the room's silence is 0 and Piper's speech is in the thousands


def spoken(text: str) -> list[rtc.AudioFrame]:
    """``text`` said by the offline voice, as 10 ms frames at the microphone's rate."""
    voice = PiperTTS()
    resampler = rtc.AudioResampler(voice.sample_rate, RATE, num_channels=1)
    frames = [out for chunk in voice.sentences(text) for out in resampler.push(chunk)] + resampler.flush()
    samples = np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])
    samples = np.pad(samples, (0, -len(samples) % FRAME))
    return [rtc.AudioFrame(samples[i:i + FRAME].tobytes(), RATE, 1, FRAME) for i in range(0, len(samples), FRAME)]


@dataclass(frozen=True)
class Said:
    started: float
    ended: float  # when its last frame went out


@dataclass
class Microphone:
    """The customer's microphone: silence in real time, and what they say when they speak."""

    source: rtc.AudioSource = field(default_factory=lambda: rtc.AudioSource(RATE, 1))
    _queued: list[rtc.AudioFrame] = field(default_factory=list)
    _saying: int = 0  # frames of what is being said
    _said: asyncio.Event = field(default_factory=asyncio.Event)
    _ended: float = 0.0

    async def run(self) -> None:
        silence = rtc.AudioFrame.create(RATE, 1, FRAME)
        started = time.monotonic()
        for sent in range(2**62):
            frame = self._queued.pop(0) if self._queued else silence
            await self.source.capture_frame(frame)
            if not self._queued and not self._said.is_set():
                self._ended = time.monotonic()
                self._said.set()
            await asyncio.sleep(max(0.0, started + (sent + 1) / 100 - time.monotonic()))

    async def say(self, text: str) -> Said:
        """Speak ``text`` (made with the offline voice); returns once it is said."""
        frames = spoken(text)
        self._said.clear()
        started = time.monotonic()
        self._saying = len(frames)
        self._queued.extend(frames)
        await asyncio.wait_for(self._said.wait(), 60)
        return Said(started, self._ended)

    def still_saying(self, after: float) -> bool:
        """``after`` seconds of what it is saying are out, and more is still to come."""
        return 0 < len(self._queued) <= self._saying - after * 100


@dataclass
class Ear:
    """The agent's audio as the customer receives it, with when each 10 ms arrived and how loud."""

    frames: list[tuple[float, float, rtc.AudioFrame]] = field(default_factory=list)
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def listen(self, track: rtc.Track) -> None:
        if track.kind == rtc.TrackKind.KIND_AUDIO:
            self._tasks.add(asyncio.create_task(self._hear(rtc.AudioStream(track, sample_rate=RATE, num_channels=1))))

    def close(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def _hear(self, stream: rtc.AudioStream) -> None:
        async for event in stream:
            samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
            self.frames.append((time.monotonic(), float(np.sqrt(np.mean(samples**2))), event.frame))

    async def sound(self, after: float, within: float = 45.0) -> float:
        """When the agent's audio is first loud after ``after``."""
        return await eventually(lambda: next((at for at, rms, _ in self.frames if at > after and rms > LOUD_RMS),
                                             None), within=within)

    async def speech(self, after: float, within: float = 45.0, quiet: float = 1.0) -> list[rtc.AudioFrame]:
        """The next thing the agent says after ``after``: from its first loud frame until ``quiet``
        seconds of silence."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            loud = [at for at, rms, _ in self.frames if at > after and rms > LOUD_RMS]
            if loud and time.monotonic() - loud[-1] > quiet:
                return [frame for at, _, frame in self.frames if loud[0] <= at <= loud[-1]]
            await asyncio.sleep(0.1)
        raise TimeoutError("the agent said nothing, or never stopped")

    def silent_from(self, after: float, quiet: float = 0.5) -> float | None:
        """When the agent's audio went quiet (for ``quiet`` seconds) after ``after``."""
        loud = [at for at, rms, _ in self.frames if at > after and rms > LOUD_RMS]
        heard_until = self.frames[-1][0] if self.frames else after
        if not loud:
            return after if heard_until - after > quiet else None
        return loud[-1] if heard_until - loud[-1] > quiet else None


@contextlib.asynccontextmanager
async def speaking(participant: Customer) -> AsyncIterator[Microphone]:
    """``participant``'s microphone, published and sending (silence until it is given something to say)."""
    microphone = Microphone()
    await participant.room.local_participant.publish_track(
        rtc.LocalAudioTrack.create_audio_track("microphone", microphone.source),
        rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE))
    talking = asyncio.create_task(microphone.run())
    try:
        yield microphone
    finally:
        talking.cancel()


@contextlib.asynccontextmanager
async def on_the_phone(join: dict[str, str]) -> AsyncIterator[tuple[Microphone, Ear]]:
    """In the call's room with a microphone, hearing the agent."""
    async with in_room(join) as customer:
        ear = Ear()
        customer.room.on("track_subscribed", lambda track, _publication, _participant: ear.listen(track))
        for participant in customer.room.remote_participants.values():
            for publication in participant.track_publications.values():
                if publication.track is not None:
                    ear.listen(publication.track)
        try:
            async with speaking(customer) as microphone:
                yield microphone, ear
        finally:
            ear.close()


@contextlib.asynccontextmanager
async def microphone_only(join: dict[str, str]) -> AsyncIterator[Microphone]:
    """In the call's room with a microphone, subscribed to nothing: a speaker whose hearing no test
    checks. The room server of the tests runs in the test process and encodes the audio once for each
    subscriber; on two busy cores it forwarded below real time with a third listening participant
    (about 30 of 50 frames a second), and the delay of everything it forwarded grew by the second."""
    async with in_room(join, rtc.RoomOptions(auto_subscribe=False)) as participant, \
            speaking(participant) as microphone:
        yield microphone
