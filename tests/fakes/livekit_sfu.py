"""The room side of the local LiveKit stand-in: LiveKit's signalling (/rtc/v1, protobuf over a
websocket, one peer connection per participant as protocol 17 clients ask for) with real WebRTC
(aiortc), forwarding data packets between the participants of a room as LiveKit's SFU does. Enough
for the real rtc SDK (the agent's job, a test's customer) to join, see who is in the room, and
exchange text streams (lk.chat, lk.transcription). It carries no audio or video.
"""

from __future__ import annotations

import base64
import contextlib
import gzip
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count
from typing import Any

from aiortc import RTCDataChannel, RTCPeerConnection, RTCSessionDescription
from aiortc.sdp import candidate_from_sdp
from fastapi import WebSocket, WebSocketDisconnect
from livekit.protocol import models
from livekit.protocol import rtc as signal

PING_INTERVAL_SECONDS = 10
PING_TIMEOUT_SECONDS = 30


@dataclass
class Member:
    info: models.ParticipantInfo
    socket: WebSocket
    connection: RTCPeerConnection
    reliable: RTCDataChannel | None = None


@dataclass
class TextStream:
    sender: str
    topic: str
    parts: list[bytes] = field(default_factory=list)


@dataclass
class DataSfu:
    """Rooms of participants joined over /rtc/v1; ``texts`` keeps every finished text stream it
    forwarded, per room: (sender identity, topic, text)."""

    verify: Callable[[str], dict[str, Any]]  # token -> claims, raising when it is not valid
    rooms: dict[str, dict[str, Member]] = field(default_factory=dict)
    texts: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    _open_streams: dict[str, TextStream] = field(default_factory=dict)
    _sids: count[int] = field(default_factory=count)

    async def serve(self, socket: WebSocket) -> None:
        try:
            claims = self.verify(socket.headers.get("authorization", "").removeprefix("Bearer ")
                                 or socket.query_params.get("access_token", ""))
            grant = claims.get("video", {})
            if not grant.get("roomJoin") or not grant.get("room"):
                raise PermissionError("needs roomJoin for one room")
        except Exception:
            await socket.close(code=4401)
            return
        join = join_request(socket.query_params.get("join_request", ""))
        await socket.accept()
        room = grant["room"]
        kind = models.ParticipantInfo.AGENT if claims.get("kind") == "agent" else models.ParticipantInfo.STANDARD
        info = models.ParticipantInfo(sid=f"PA_{next(self._sids)}", identity=claims["sub"], name=claims.get("name", ""),
                                      state=models.ParticipantInfo.ACTIVE, kind=kind,
                                      joined_at=int(time.time()), is_publisher=True)
        member = Member(info, socket, RTCPeerConnection())
        member.connection.on("datachannel", lambda channel: self._on_channel(room, member, channel))
        await member.connection.setRemoteDescription(RTCSessionDescription(join.publisher_offer.sdp, "offer"))
        await member.connection.setLocalDescription(await member.connection.createAnswer())
        others = self.rooms.setdefault(room, {})
        await send(socket, signal.SignalResponse(join=signal.JoinResponse(
            room=models.Room(sid=f"RM_{room}", name=room), participant=info,
            other_participants=[m.info for m in others.values()], server_version="fake",
            ping_interval=PING_INTERVAL_SECONDS, ping_timeout=PING_TIMEOUT_SECONDS,
            server_info=models.ServerInfo(edition=models.ServerInfo.Standard, version="fake", protocol=17))))
        await send(socket, signal.SignalResponse(answer=signal.SessionDescription(
            type="answer", sdp=member.connection.localDescription.sdp, id=join.publisher_offer.id)))
        others[info.identity] = member
        await self._announce(room, info)
        try:
            while await self._on_signal(room, member, signal.SignalRequest.FromString(await socket.receive_bytes())):
                pass
        except WebSocketDisconnect:
            pass
        finally:
            await self._leave(room, member)

    async def _on_signal(self, room: str, member: Member, request: signal.SignalRequest) -> bool:
        which = request.WhichOneof("message")
        if which == "trickle":
            candidate = json.loads(request.trickle.candidateInit)
            if candidate.get("candidate"):
                ice = candidate_from_sdp(candidate["candidate"].split(":", 1)[1])
                ice.sdpMid, ice.sdpMLineIndex = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
                await member.connection.addIceCandidate(ice)
        elif which == "ping_req":
            await send(member.socket, signal.SignalResponse(pong_resp=signal.Pong(
                last_ping_timestamp=request.ping_req.timestamp, timestamp=int(time.time() * 1000))))
        elif which == "update_metadata":
            update = request.update_metadata
            member.info.attributes.update(update.attributes)
            if update.metadata:
                member.info.metadata = update.metadata
            await send(member.socket, signal.SignalResponse(request_response=signal.RequestResponse(
                request_id=update.request_id, reason=signal.RequestResponse.OK)))
            await self._announce(room, member.info)
        elif which == "leave":
            return False
        return True

    def _on_channel(self, room: str, member: Member, channel: RTCDataChannel) -> None:
        if channel.label != "_reliable":
            return
        member.reliable = channel
        channel.on("message", lambda message: self._forward(room, member, message))

    def _forward(self, room: str, sender: Member, message: bytes | str) -> None:
        if isinstance(message, str):
            return
        packet = models.DataPacket.FromString(message)
        self._remember_text(room, sender.info.identity, packet)
        for member in list(self.rooms.get(room, {}).values()):
            wanted = not packet.destination_identities or member.info.identity in packet.destination_identities
            if member is not sender and wanted and member.reliable is not None \
                    and member.reliable.readyState == "open":
                member.reliable.send(message)

    def _remember_text(self, room: str, sender: str, packet: models.DataPacket) -> None:
        which = packet.WhichOneof("value")
        if which == "stream_header" and packet.stream_header.HasField("text_header"):
            self._open_streams[packet.stream_header.stream_id] = TextStream(sender, packet.stream_header.topic)
        elif which == "stream_chunk" and (stream := self._open_streams.get(packet.stream_chunk.stream_id)):
            stream.parts.append(packet.stream_chunk.content)
        elif which == "stream_trailer" and (stream := self._open_streams.pop(packet.stream_trailer.stream_id, None)):
            self.texts.setdefault(room, []).append((stream.sender, stream.topic, b"".join(stream.parts).decode()))

    async def _announce(self, room: str, info: models.ParticipantInfo) -> None:
        update = signal.SignalResponse(update=signal.ParticipantUpdate(participants=[info]))
        for member in list(self.rooms.get(room, {}).values()):
            if member.info.identity != info.identity:
                with contextlib.suppress(Exception):
                    await send(member.socket, update)

    async def close(self, room: str) -> None:
        """The room is deleted: everyone in it is told to leave, as LiveKit does."""
        leave = signal.SignalResponse(leave=signal.LeaveRequest(reason=models.DisconnectReason.ROOM_DELETED,
                                                                action=signal.LeaveRequest.DISCONNECT))
        for member in list(self.rooms.get(room, {}).values()):
            with contextlib.suppress(Exception):
                await send(member.socket, leave)
                await member.socket.close()

    async def _leave(self, room: str, member: Member) -> None:
        members = self.rooms.get(room, {})
        if members.get(member.info.identity) is member:
            del members[member.info.identity]
            member.info.state = models.ParticipantInfo.DISCONNECTED
            await self._announce(room, member.info)
        await member.connection.close()


def join_request(encoded: str) -> signal.JoinRequest:
    wrapped = signal.WrappedJoinRequest.FromString(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    body = wrapped.join_request
    if wrapped.compression == signal.WrappedJoinRequest.GZIP:
        body = gzip.decompress(body)
    return signal.JoinRequest.FromString(body)


async def send(socket: WebSocket, response: signal.SignalResponse) -> None:
    await socket.send_bytes(response.SerializeToString())
