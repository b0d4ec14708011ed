"""Rooms, their participants, and what the server forwards between them: each published audio track to the
other participants who subscribe, and data packets (chat, transcriptions, RPC) as LiveKit's SFU does.

Every participant has one peer connection with the server (LiveKit's single peer connection mode) and the
client always offers. Audio a participant publishes arrives on a section the client sends on; audio it
subscribes to leaves on a section the client offered as receive-only. Such a section serves one track for
its whole life: the client only reports a new remote track when a section starts receiving, so a track that
goes away leaves its section inactive and the next track gets a fresh one. When a participant has no free
receive-only section, the server asks its client for more (MediaSectionsRequirement), which makes the client
offer again. Audio is decoded and encoded again on the way (aiortc), which is plenty for one machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from aiortc import MediaStreamTrack, RTCDataChannel, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.contrib.media import MediaRelay
from aiortc.mediastreams import MediaStreamError
from aiortc.sdp import SessionDescription as ParsedSdp
from fastapi import WebSocket
from livekit.protocol import models
from livekit.protocol import rtc as signal

from embedded_stack.room_server.network import peer_connection, without_mdns_candidates

logger = logging.getLogger(__name__)

DATA_CHANNELS = ("_reliable", "_lossy")
_ids = itertools.count(1)


def new_sid(prefix: str) -> str:
    return f"{prefix}_{next(_ids):06d}{int(time.time() * 1000) % 1_000_000:06d}"


@dataclass(eq=False)
class PublishedTrack:
    """A track a participant announced (AddTrackRequest); ``source`` is its media once it arrives."""

    info: models.TrackInfo
    cid: str
    publisher: Participant
    source: MediaStreamTrack | None = None
    subscribed: bool = False  # someone receives it: its publisher was told (TrackSubscribed)


    async def first_subscriber(self) -> None:
        """Tell the publisher the first time someone receives the track, as LiveKit does: the rtc SDK
        holds a publication's audio until then (livekit-agents plays nothing into an empty room)."""
        if self.subscribed:
            return
        self.subscribed = True
        with contextlib.suppress(Exception):
            await self.publisher.send(signal.SignalResponse(
                track_subscribed=signal.TrackSubscribed(track_sid=self.info.sid)))


@dataclass(eq=False)
class Section:
    """A receive-only section a client offered, on which the server sends it one subscribed track."""

    transceiver: RTCRtpTransceiver
    track: PublishedTrack | None = None
    used: bool = False

    def send(self, track: PublishedTrack, relay: MediaRelay) -> None:
        self.track, self.used = track, True
        self.transceiver.direction = "sendonly"
        sender = self.transceiver.sender
        sender.replaceTrack(relay.subscribe(track.source))
        # The client finds the publisher and the track from the msid, "PA_…|TR_… TR_…". aiortc writes the
        # msid from its sender's stream and track ids, which it has no public setter for.
        sender._stream_id = f"{track.publisher.info.sid}|{track.info.sid}"
        sender._track_id = track.info.sid

    def stop(self) -> None:
        sender = self.transceiver.sender
        relayed = sender.track
        sender.replaceTrack(None)
        if relayed is not None:
            relayed.stop()  # unregisters it from the relay, which would otherwise queue frames for it
        self.transceiver.direction = "inactive"
        self.track = None


@dataclass(eq=False)
class Participant:
    info: models.ParticipantInfo
    socket: WebSocket
    room: Room
    auto_subscribe: bool = True
    connection: RTCPeerConnection = field(default_factory=peer_connection)
    channels: dict[str, RTCDataChannel] = field(default_factory=dict)  # the client's data channels, by label
    published: dict[str, PublishedTrack] = field(default_factory=dict)  # by track sid
    sections: dict[str, Section] = field(default_factory=dict)  # receive-only audio sections, by mid
    subscriptions: dict[str, PublishedTrack] = field(default_factory=dict)  # by track sid
    offered_track_ids: dict[str, str] = field(default_factory=dict)  # mid -> the client's track id (msid)
    awaiting_offer: bool = False  # asked the client for sections; its next offer brings them
    negotiating: asyncio.Lock = field(default_factory=asyncio.Lock)
    _send_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def identity(self) -> str:
        return self.info.identity

    @property
    def visible(self) -> bool:
        return not self.info.permission.hidden

    async def send(self, response: signal.SignalResponse) -> None:
        async with self._send_lock:
            await self.socket.send_bytes(response.SerializeToString())

    def changed(self) -> None:
        self.info.version += 1

    async def answer(self, offer: signal.SessionDescription) -> None:
        """Answer the client's offer: receive what it publishes (audio only), send each subscribed track on
        a free receive-only section, then ask for more sections if some subscriptions still have none."""
        async with self.negotiating:
            sdp = without_mdns_candidates(offer.sdp)
            parsed = ParsedSdp.parse(sdp)
            for media in parsed.media:
                if media.msid and " " in media.msid:
                    self.offered_track_ids[media.rtp.muxId] = media.msid.split()[1]
            self.awaiting_offer = False
            await self.connection.setRemoteDescription(RTCSessionDescription(sdp, "offer"))
            for media in parsed.media:
                transceiver = self.transceiver(media.rtp.muxId)
                if transceiver is None:
                    continue
                if media.direction == "recvonly" and media.kind == "audio":
                    self.sections.setdefault(media.rtp.muxId, Section(transceiver))
                elif media.direction in ("sendonly", "sendrecv") and (
                        media.kind != "audio" or not self.info.permission.can_publish):
                    transceiver.direction = "inactive"  # video is not forwarded; nor is what may not be published
            sent = self.fill_sections()
            await self.connection.setLocalDescription(await self.connection.createAnswer())
            await self.send(signal.SignalResponse(answer=signal.SessionDescription(
                type="answer", sdp=self.connection.localDescription.sdp, id=offer.id,
                mid_to_track_id={mid: s.track.info.sid for mid, s in self.sections.items() if s.track})))
            for track in sent:
                await track.first_subscriber()
            await self.request_sections()

    def transceiver(self, mid: str) -> RTCRtpTransceiver | None:
        return next((t for t in self.connection.getTransceivers() if t.mid == mid), None)

    def fill_sections(self) -> list[PublishedTrack]:
        """Put each subscribed track still without a section on a free one; the tracks it placed."""
        waiting = [t for t in self.subscriptions.values() if not any(s.track is t for s in self.sections.values())]
        free = (section for section in self.sections.values() if not section.used)
        placed = list(zip(waiting, free, strict=False))
        for track, section in placed:
            section.send(track, self.room.relay)
        return [track for track, _ in placed]

    async def request_sections(self) -> None:
        """Have the client offer again, with as many new receive-only audio sections as are missing."""
        if self.awaiting_offer:
            return
        waiting = sum(1 for t in self.subscriptions.values() if not any(s.track is t for s in self.sections.values()))
        if not waiting:
            return
        free = sum(1 for section in self.sections.values() if not section.used)
        self.awaiting_offer = True
        await self.send(signal.SignalResponse(media_sections_requirement=signal.MediaSectionsRequirement(
            num_audios=max(0, waiting - free))))

    async def subscribe(self, track: PublishedTrack) -> None:
        if track.info.sid in self.subscriptions or not self.info.permission.can_subscribe:
            return
        self.subscriptions[track.info.sid] = track
        async with self.negotiating:
            await self.request_sections()

    def unsubscribe(self, track_sid: str) -> None:
        if self.subscriptions.pop(track_sid, None) is None:
            return
        for section in self.sections.values():
            if section.track is not None and section.track.info.sid == track_sid:
                section.stop()

    def media_for(self, transceiver: RTCRtpTransceiver) -> PublishedTrack | None:
        """Which announced track the media arriving on this section is: the one whose cid is the section's
        track id, or else the oldest announced audio track still without media."""
        cid = self.offered_track_ids.get(transceiver.mid or "")
        waiting = [t for t in self.published.values() if t.source is None and t.info.type == models.AUDIO]
        return next((t for t in waiting if t.cid == cid), waiting[0] if waiting else None)


@dataclass(eq=False)
class Room:
    name: str
    relay: MediaRelay
    on_data: Callable[[Room, Participant, models.DataPacket], None]
    info: models.Room = field(default_factory=models.Room)
    participants: dict[str, Participant] = field(default_factory=dict)  # by identity
    created_by_api: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.info.name = self.name
        self.info.sid = self.info.sid or new_sid("RM")
        self.info.creation_time = self.info.creation_time or int(time.time())

    def others(self, participant: Participant) -> list[Participant]:
        return [p for p in self.participants.values() if p is not participant]

    def background(self, work: asyncio.Future[None] | asyncio.Task[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def admit(self, participant: Participant) -> None:
        """The participant has its JoinResponse: the others learn of it, and it subscribes to their tracks."""
        if (previous := self.participants.get(participant.identity)) is not None:
            # LiveKit lets the newest connection of an identity win.
            with contextlib.suppress(Exception):
                await previous.send(leave(models.DisconnectReason.DUPLICATE_IDENTITY))
                await previous.socket.close()
            await self.remove(previous)
        self.participants[participant.identity] = participant
        connection = participant.connection
        connection.on("datachannel", lambda channel: self._on_channel(participant, channel))
        connection.on("track", lambda track: self._on_media(participant, track))
        await self.announce(participant)
        if participant.auto_subscribe:
            for other in self.others(participant):
                for track in other.published.values():
                    if track.source is not None and other.visible:
                        await participant.subscribe(track)

    async def announce(self, participant: Participant) -> None:
        if not participant.visible:
            return
        update = signal.SignalResponse(update=signal.ParticipantUpdate(participants=[participant.info]))
        for other in self.others(participant):
            with contextlib.suppress(Exception):
                await other.send(update)

    async def publish(self, participant: Participant, request: signal.AddTrackRequest) -> None:
        if not participant.info.permission.can_publish:
            logger.warning("publishing refused: no permission", extra={"room": self.name,
                                                                      "participant": participant.identity})
            return
        info = models.TrackInfo(sid=new_sid("TR"), type=request.type, name=request.name, source=request.source,
                                muted=request.muted, disable_dtx=request.disable_dtx, stereo=request.stereo,
                                stream=request.stream,
                                mime_type="audio/opus" if request.type == models.AUDIO else "")
        track = PublishedTrack(info, request.cid, participant)
        participant.published[info.sid] = track
        await participant.send(signal.SignalResponse(track_published=signal.TrackPublishedResponse(
            cid=request.cid, track=info)))
        participant.info.tracks.append(info)
        participant.changed()
        await self.announce(participant)

    def _on_media(self, participant: Participant, source: MediaStreamTrack) -> None:
        transceiver = next((t for t in participant.connection.getTransceivers() if t.receiver.track is source), None)
        if source.kind != "audio" or transceiver is None or not participant.info.permission.can_publish:
            return
        track = participant.media_for(transceiver)
        if track is None:
            logger.warning("audio without an announced track", extra={"room": self.name,
                                                                     "participant": participant.identity})
            return
        track.source = source
        track.info.mid = transceiver.mid or ""
        self.background(self._drain(source))
        if participant.visible:
            for other in self.others(participant):
                if other.auto_subscribe:
                    self.background(other.subscribe(track))

    async def _drain(self, source: MediaStreamTrack) -> None:
        """Keep reading the published track even while nobody subscribes, so frames do not pile up."""
        relayed = self.relay.subscribe(source)
        with contextlib.suppress(MediaStreamError):
            while True:
                await relayed.recv()

    async def unpublish(self, participant: Participant, track_sid: str) -> None:
        track = participant.published.pop(track_sid, None)
        if track is None:
            return
        for other in self.others(participant):
            other.unsubscribe(track_sid)
        kept = [info for info in participant.info.tracks if info.sid != track_sid]
        del participant.info.tracks[:]
        participant.info.tracks.extend(kept)
        participant.changed()
        with contextlib.suppress(Exception):
            await participant.send(signal.SignalResponse(
                track_unpublished=signal.TrackUnpublishedResponse(track_sid=track_sid)))
        await self.announce(participant)

    async def mute(self, participant: Participant, request: signal.MuteTrackRequest) -> None:
        for info in participant.info.tracks:
            if info.sid == request.sid:
                info.muted = request.muted
                participant.changed()
                await self.announce(participant)

    async def remove(self, participant: Participant) -> None:
        """The participant left (or was replaced): its tracks go, and the others are told."""
        if self.participants.get(participant.identity) is participant:
            del self.participants[participant.identity]
            for other in self.participants.values():
                for track_sid in participant.published:
                    other.unsubscribe(track_sid)
            participant.info.state = models.ParticipantInfo.DISCONNECTED
            participant.changed()
            await self.announce(participant)
        for section in participant.sections.values():
            if section.track is not None:
                section.stop()
        await participant.connection.close()

    def _on_channel(self, participant: Participant, channel: RTCDataChannel) -> None:
        if channel.label not in DATA_CHANNELS:
            return
        participant.channels[channel.label] = channel
        channel.on("message", lambda message: self.forward(participant, channel.label, message))

    def forward(self, sender: Participant, label: str, message: bytes | str) -> None:
        if isinstance(message, str) or not sender.info.permission.can_publish_data:
            return
        packet = models.DataPacket.FromString(message)
        # As LiveKit does: the packet says who sent it, whatever the sender wrote there.
        packet.participant_identity, packet.participant_sid = sender.identity, sender.info.sid
        self.on_data(self, sender, packet)
        forwarded = packet.SerializeToString()
        for member in self.others(sender):
            channel = member.channels.get(label)
            wanted = not packet.destination_identities or member.identity in packet.destination_identities
            if wanted and channel is not None and channel.readyState == "open":
                channel.send(forwarded)

    async def close(self, reason: models.DisconnectReason.ValueType) -> None:
        """Everyone is told to leave and disconnected, as LiveKit does when a room is deleted."""
        for participant in list(self.participants.values()):
            with contextlib.suppress(Exception):
                await participant.send(leave(reason))
                await participant.socket.close()
            await self.remove(participant)


def leave(reason: models.DisconnectReason.ValueType) -> signal.SignalResponse:
    return signal.SignalResponse(leave=signal.LeaveRequest(reason=reason, action=signal.LeaveRequest.DISCONNECT))
