"""The embedded room server with real clients: Python rtc SDK participants (native WebRTC, what the agent
joins with) hear each other through it, rooms stay apart, tokens are checked as LiveKit checks them, and
livekit-api's RoomService drives it. WebRTC never uses loopback: run inside a network namespace
(tests/sealed_network, as make test does), where the server advertises the namespace's interface
address."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import math
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

import httpx
import numpy as np
import pytest
import websockets
from livekit import api, rtc
from livekit.protocol import agent as agent_proto

from embedded_stack.room_server import RoomServer
from embedded_stack.room_server.network import advertise, interface_addresses
from tests.integration.conftest import serve
from tests.waiting import eventually

KEY, SECRET = "devkey", "room-server-test-secret-of-32-bytes+"
SAMPLE_RATE = 48000
WAIT = 10.0  # for anything WebRTC: connecting, negotiating, first audio


@dataclass
class Served:
    server: RoomServer
    url: str  # ws://…
    http_url: str


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    addresses = interface_addresses()
    # Fail, not skip: WebRTC needs an interface besides loopback, and make test provides one.
    assert addresses, "no network interface besides loopback: run inside tests/sealed_network (make test does)"
    advertise(addresses)
    server = RoomServer(KEY, SECRET)
    app = serve(server.app())
    yield Served(server, app.url.replace("http://", "ws://"), app.url)
    app.stop()


def token(room: str, identity: str, *, secret: str = SECRET, ttl: timedelta = timedelta(minutes=5),
          **grants: bool) -> str:
    return (api.AccessToken(KEY, secret).with_identity(identity).with_ttl(ttl)
            .with_grants(api.VideoGrants(room_join=True, room=room, **grants)).to_jwt())


@contextlib.asynccontextmanager
async def joined(served: Served, room: str, identity: str, **grants: bool) -> AsyncIterator[rtc.Room]:
    participant = rtc.Room()
    await asyncio.wait_for(participant.connect(served.url, token(room, identity, **grants)), WAIT)
    try:
        yield participant
    finally:
        await participant.disconnect()


@contextlib.asynccontextmanager
async def playing_tone(participant: rtc.Room, frequency: float) -> AsyncIterator[rtc.LocalTrackPublication]:
    """Publish a microphone track carrying a sine tone for as long as the block runs."""
    source = rtc.AudioSource(SAMPLE_RATE, 1)
    track = rtc.LocalAudioTrack.create_audio_track("tone", source)
    publication = await asyncio.wait_for(participant.local_participant.publish_track(
        track, rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)), WAIT)
    samples = SAMPLE_RATE // 100

    async def play() -> None:
        start = 0
        while True:
            t = (np.arange(start, start + samples) / SAMPLE_RATE)
            tone = (np.sin(2 * math.pi * frequency * t) * 12000).astype(np.int16)
            frame = rtc.AudioFrame.create(SAMPLE_RATE, 1, samples)
            np.copyto(np.frombuffer(frame.data, dtype=np.int16), tone)
            await source.capture_frame(frame)
            start += samples

    player = asyncio.create_task(play())
    try:
        yield publication
    finally:
        player.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await player
        await source.aclose()


def remote_audio(listener: rtc.Room, speaker: str) -> rtc.RemoteAudioTrack | None:
    participant = listener.remote_participants.get(speaker)
    if participant is None:
        return None
    return next((p.track for p in participant.track_publications.values()
                 if p.track is not None and p.kind == rtc.TrackKind.KIND_AUDIO), None)


async def hears(listener: rtc.Room, speaker: str) -> float:
    """How loud the speaker's audio is at the listener (RMS of 16-bit samples), once it is not silent."""
    track = await eventually(lambda: remote_audio(listener, speaker), within=WAIT)
    stream = rtc.AudioStream(track, sample_rate=SAMPLE_RATE, num_channels=1)
    try:
        async with asyncio.timeout(WAIT):
            async for event in stream:
                samples = np.frombuffer(event.frame.data, dtype=np.int16).astype(np.float64)
                if (loudness := float(np.sqrt(np.mean(samples ** 2)))) > 1000:
                    return loudness
    finally:
        await stream.aclose()
    raise AssertionError("only silence")


async def test_two_participants_hear_each_other(served: Served) -> None:
    async with joined(served, "duet", "alice") as alice, joined(served, "duet", "bob") as bob, \
            playing_tone(alice, 440), playing_tone(bob, 660):
        assert await hears(bob, "alice") > 1000
        assert await hears(alice, "bob") > 1000


async def test_rooms_keep_their_audio_and_data_to_themselves(served: Served) -> None:
    async with joined(served, "north", "ann") as ann, joined(served, "north", "ben") as ben, \
            joined(served, "south", "cat") as cat, playing_tone(ann, 440):
        texts: list[tuple[str, str]] = []
        readers: list[asyncio.Task[None]] = []

        def keep(reader: rtc.TextStreamReader, sender: str) -> None:
            async def read() -> None:
                texts.append((sender, await reader.read_all()))
            readers.append(asyncio.ensure_future(read()))

        ben.register_text_stream_handler("lk.chat", keep)
        cat.register_text_stream_handler("lk.chat", keep)
        await ann.local_participant.send_text("hello north", topic="lk.chat")
        assert await hears(ben, "ann") > 1000
        await eventually(lambda: texts, within=WAIT)
        await asyncio.sleep(0.5)  # time for anything that would leak to arrive
        assert texts == [("ann", "hello north")]
        assert not cat.remote_participants


async def test_a_participant_leaving_is_announced_and_its_track_goes(served: Served) -> None:
    async with joined(served, "parting", "stay") as stay:
        gone = asyncio.Event()
        stay.on("participant_disconnected", lambda participant: gone.set())
        async with joined(served, "parting", "go") as go, playing_tone(go, 330):
            await hears(stay, "go")
        await asyncio.wait_for(gone.wait(), WAIT)
        assert "go" not in stay.remote_participants
        assert remote_audio(stay, "go") is None


@pytest.mark.parametrize("forged", ["wrong secret", "expired", "other room"])
async def test_tokens_that_do_not_admit_are_refused(served: Served, forged: str) -> None:
    async with joined(served, "vault", "owner") as owner:
        bad = {"wrong secret": token("vault", "mallory", secret="not-the-secret-of-this-server-at-all"),
               "expired": token("vault", "mallory", ttl=timedelta(seconds=-60)),
               "other room": token("elsewhere", "mallory")}[forged]
        intruder = rtc.Room()
        if forged == "other room":
            # A token names its room: it joins that one, never this one.
            await asyncio.wait_for(intruder.connect(served.url, bad), WAIT)
            assert intruder.name == "elsewhere" and not intruder.remote_participants
            await intruder.disconnect()
        else:
            with pytest.raises(rtc.ConnectError):
                await asyncio.wait_for(intruder.connect(served.url, bad), WAIT)
        await asyncio.sleep(0.2)
        assert not owner.remote_participants
        async with api.LiveKitAPI(served.http_url, KEY, SECRET) as lkapi:
            listed = await lkapi.room.list_participants(api.ListParticipantsRequest(room="vault"))
        assert [p.identity for p in listed.participants] == ["owner"]


@pytest.mark.parametrize("join_request", ["not base64!", "AAAA", base64.urlsafe_b64encode(b"\x0a\xff").decode()])
async def test_a_malformed_join_request_is_refused_with_a_reason(served: Served, join_request: str) -> None:
    query = {"access_token": token("garbled", "someone"), "join_request": join_request}
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"{served.url}/rtc/v1?{urlencode(query)}"):
            pass
    assert refused.value.response.status_code == 400
    assert b"malformed join_request" in refused.value.response.body
    assert "garbled" not in served.server.rooms  # nobody joined it


async def test_an_admin_token_for_one_room_cannot_list_another(served: Served) -> None:
    admin = api.AccessToken(KEY, SECRET).with_grants(api.VideoGrants(room_admin=True, room="one")).to_jwt()
    async with httpx.AsyncClient(base_url=served.http_url) as http:
        response = await http.post("/twirp/livekit.RoomService/ListParticipants",
                                   content=api.ListParticipantsRequest(room="two").SerializeToString(),
                                   headers={"Authorization": f"Bearer {admin}",
                                            "Content-Type": "application/protobuf"})
    assert response.status_code == 403


async def test_a_subscribe_only_participant_cannot_publish(served: Served) -> None:
    async with joined(served, "gallery", "speaker") as speaker, \
            joined(served, "gallery", "listener", can_publish=False) as listener, playing_tone(speaker, 440):
        assert await hears(listener, "speaker") > 1000  # it may subscribe
        source = rtc.AudioSource(SAMPLE_RATE, 1)
        attempt = asyncio.ensure_future(listener.local_participant.publish_track(
            rtc.LocalAudioTrack.create_audio_track("sneaky", source)))
        await asyncio.sleep(1.0)  # the server does not confirm the track (the SDK gives up after 10 s)
        assert not attempt.done() or attempt.exception() is not None
        assert not speaker.remote_participants["listener"].track_publications
        attempt.cancel()
        with contextlib.suppress(BaseException):
            await attempt
        await source.aclose()


async def test_hidden_participants_are_not_announced(served: Served) -> None:
    async with joined(served, "backstage", "visible") as visible, joined(served, "backstage", "ghost", hidden=True):
        await asyncio.sleep(0.5)
        assert "ghost" not in visible.remote_participants


async def test_deleting_a_room_disconnects_everyone(served: Served) -> None:
    async with api.LiveKitAPI(served.http_url, KEY, SECRET) as lkapi:
        await lkapi.room.create_room(api.CreateRoomRequest(name="doomed"))
        async with joined(served, "doomed", "one") as one, joined(served, "doomed", "two") as two:
            ended = [asyncio.Event(), asyncio.Event()]
            one.on("disconnected", lambda *_: ended[0].set())
            two.on("disconnected", lambda *_: ended[1].set())
            await lkapi.room.delete_room(api.DeleteRoomRequest(room="doomed"))
            await asyncio.wait_for(asyncio.gather(*(e.wait() for e in ended)), WAIT)
        assert "doomed" not in served.server.rooms


@contextlib.asynccontextmanager
async def agent_worker(served: Served, agent_name: str) -> AsyncIterator[websockets.ClientConnection]:
    """A worker speaking LiveKit's agent protocol over /agent, registered under ``agent_name``."""
    grant = api.AccessToken(KEY, SECRET).with_grants(api.VideoGrants(agent=True)).to_jwt()
    async with websockets.connect(f"{served.url}/agent", additional_headers={"Authorization": f"Bearer {grant}"}) as ws:
        await ws.send(agent_proto.WorkerMessage(register=agent_proto.RegisterWorkerRequest(
            type=agent_proto.JobType.JT_ROOM, agent_name=agent_name)).SerializeToString())
        assert agent_proto.ServerMessage.FromString(await ws.recv()).HasField("register")
        yield ws


async def offered(worker: websockets.ClientConnection) -> agent_proto.Job:
    async with asyncio.timeout(WAIT):
        while (message := agent_proto.ServerMessage.FromString(await worker.recv())).WhichOneof("message") != \
                "availability":
            pass
    return message.availability.job


async def accept(worker: websockets.ClientConnection, job: agent_proto.Job) -> None:
    await worker.send(agent_proto.WorkerMessage(availability=agent_proto.AvailabilityResponse(
        job_id=job.id, available=True, participant_identity="agent-1")).SerializeToString())
    assert agent_proto.ServerMessage.FromString(await worker.recv()).assignment.job.id == job.id


async def test_a_job_whose_worker_goes_away_is_offered_again_unless_the_worker_comes_back_for_it(
        served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    """LiveKit's default restart policy: a job that fails, or whose worker goes, is dispatched again;
    a worker that reconnects and reports the job still running (MigrateJobRequest) keeps it."""
    monkeypatch.setattr(served.server.dispatcher, "worker_grace_seconds", 1.0)
    async with api.LiveKitAPI(served.http_url, KEY, SECRET) as livekit:
        for room in ("restarted", "migrated"):
            async with agent_worker(served, room) as first:
                await livekit.room.create_room(api.CreateRoomRequest(
                    name=room, agents=[api.RoomAgentDispatch(agent_name=room, metadata="the call")]))
                job = await offered(first)
                await accept(first, job)
            async with agent_worker(served, room) as second:
                if room == "restarted":
                    again = await offered(second)
                    assert (again.room.name, again.metadata) == (room, "the call") and again.id != job.id
                else:
                    await second.send(agent_proto.WorkerMessage(migrate_job=agent_proto.MigrateJobRequest(
                        job_ids=[job.id])).SerializeToString())
                    with pytest.raises(TimeoutError):  # the grace, and as long again
                        await asyncio.wait_for(offered(second), 2 * served.server.dispatcher.worker_grace_seconds)
                    assert served.server.dispatcher.offers[room].restarts == 0
            await livekit.room.delete_room(api.DeleteRoomRequest(room=room))
