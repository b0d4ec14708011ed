"""LiveKit's client signalling over /rtc/v1 (protocol 17, one peer connection per participant): protobuf
SignalRequest / SignalResponse over a websocket whose query carries the access token and a compressed
JoinRequest with the client's first offer. Both livekit-client and the Python rtc SDK join this way."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import gzip
import json
import logging
import time
from typing import TYPE_CHECKING

from aiortc.sdp import candidate_from_sdp
from fastapi import WebSocket, WebSocketDisconnect
from fastapi.responses import PlainTextResponse, Response
from google.protobuf.message import DecodeError
from livekit.protocol import models
from livekit.protocol import rtc as signal
from starlette.requests import HTTPConnection
from starlette.websockets import WebSocketDisconnected

from embedded_stack.room_server.auth import Refused, bearer
from embedded_stack.room_server.network import is_mdns
from embedded_stack.room_server.rooms import Participant, Room, new_sid

if TYPE_CHECKING:
    from embedded_stack.room_server.server import RoomServer

logger = logging.getLogger(__name__)

PROTOCOL = 17
PING_INTERVAL_SECONDS = 10
PING_TIMEOUT_SECONDS = 30
KINDS = {"agent": models.ParticipantInfo.AGENT, "sip": models.ParticipantInfo.SIP,
         "egress": models.ParticipantInfo.EGRESS, "ingress": models.ParticipantInfo.INGRESS}


def token_of(connection: HTTPConnection) -> str:
    return (bearer(connection.headers.get("authorization", ""))
            or connection.query_params.get("access_token", ""))


def permission(video: dict[str, object]) -> models.ParticipantPermission:
    return models.ParticipantPermission(
        can_subscribe=video.get("canSubscribe", True) is not False,
        can_publish=video.get("canPublish", True) is not False,
        can_publish_data=video.get("canPublishData", True) is not False,
        hidden=bool(video.get("hidden")), agent=bool(video.get("agent")),
        can_update_metadata=bool(video.get("canUpdateOwnMetadata")))


def join_request(encoded: str) -> signal.JoinRequest:
    wrapped = signal.WrappedJoinRequest.FromString(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))
    body = wrapped.join_request
    if wrapped.compression == signal.WrappedJoinRequest.GZIP:
        body = gzip.decompress(body)
    return signal.JoinRequest.FromString(body)


def validate(server: RoomServer, request: HTTPConnection) -> Response:
    """What clients ask when the websocket upgrade failed, to tell a bad token from an unreachable server."""
    try:
        server.join_claims(token_of(request))
    except Refused as refused:
        return PlainTextResponse(str(refused), refused.status)
    return PlainTextResponse("success")


async def serve(server: RoomServer, socket: WebSocket) -> None:
    try:
        claims = server.join_claims(token_of(socket))
    except Refused as refused:
        logger.info("join refused", extra={"reason": str(refused)})
        await socket.send_denial_response(PlainTextResponse(str(refused), refused.status))
        return
    video = claims["video"]
    try:
        join = join_request(socket.query_params["join_request"]) if "join_request" in socket.query_params else \
            signal.JoinRequest(connection_settings=signal.ConnectionSettings(
                auto_subscribe=socket.query_params.get("auto_subscribe", "1") not in ("0", "false")))
    except (ValueError, OSError, DecodeError) as malformed:  # base64, gzip or protobuf that does not parse
        logger.info("join refused: malformed join request", extra={"reason": str(malformed)})
        await socket.send_denial_response(PlainTextResponse(f"malformed join_request: {malformed}", 400))
        return
    await socket.accept()
    room = server.room(video["room"])
    info = models.ParticipantInfo(
        sid=new_sid("PA"), identity=claims["sub"], name=claims.get("name", ""), metadata=claims.get("metadata", ""),
        attributes=claims.get("attributes") or {}, state=models.ParticipantInfo.ACTIVE,
        kind=KINDS.get(claims.get("kind", ""), models.ParticipantInfo.STANDARD), joined_at=int(time.time()),
        joined_at_ms=int(time.time() * 1000), permission=permission(video), version=1)
    participant = Participant(info, socket, room, auto_subscribe=join.connection_settings.auto_subscribe)
    await participant.send(signal.SignalResponse(join=signal.JoinResponse(
        room=room.info, participant=info,
        other_participants=[p.info for p in room.participants.values() if p.visible],
        server_version=server.version, ping_interval=PING_INTERVAL_SECONDS, ping_timeout=PING_TIMEOUT_SECONDS,
        server_info=models.ServerInfo(edition=models.ServerInfo.Standard, version=server.version,
                                      protocol=PROTOCOL))))
    logger.info("participant joined", extra={"room": room.name, "participant": info.identity})
    try:
        await room.admit(participant)
        if join.publisher_offer.sdp:
            await participant.answer(join.publisher_offer)
        while True:
            message = await asyncio.wait_for(socket.receive_bytes(), PING_TIMEOUT_SECONDS)
            if not await on_request(room, participant, signal.SignalRequest.FromString(message)):
                break
    except (WebSocketDisconnect, WebSocketDisconnected, TimeoutError):
        pass  # the client went, went quiet, or the server closed it (a deleted room, a newer connection)
    except DecodeError:  # not a SignalRequest: the client is not speaking LiveKit's protocol
        logger.warning("a malformed signal message; closing its connection",
                       extra={"room": room.name, "participant": info.identity})
    finally:
        await room.remove(participant)
        server.left(room)
        with contextlib.suppress(Exception):  # already closed, when the client went first
            await socket.close()
        logger.info("participant left", extra={"room": room.name, "participant": info.identity})


async def on_request(room: Room, participant: Participant, request: signal.SignalRequest) -> bool:
    """Handle one message from the client; false when it leaves."""
    which = request.WhichOneof("message")
    if which == "offer":
        await participant.answer(request.offer)
    elif which == "trickle":
        candidate = json.loads(request.trickle.candidateInit)
        line = candidate.get("candidate") or ""
        if line and not is_mdns(line):
            ice = candidate_from_sdp(line.split(":", 1)[1])
            ice.sdpMid, ice.sdpMLineIndex = candidate.get("sdpMid"), candidate.get("sdpMLineIndex")
            await participant.connection.addIceCandidate(ice)
    elif which == "add_track":
        await room.publish(participant, request.add_track)
    elif which == "mute":
        await room.mute(participant, request.mute)
    elif which == "subscription":
        for track_sid in request.subscription.track_sids:
            await subscription(room, participant, track_sid, request.subscription.subscribe)
    elif which == "ping_req":
        await participant.send(signal.SignalResponse(pong_resp=signal.Pong(
            last_ping_timestamp=request.ping_req.timestamp, timestamp=int(time.time() * 1000))))
    elif which == "ping":
        await participant.send(signal.SignalResponse(pong=int(time.time() * 1000)))
    elif which == "update_metadata":
        await update_metadata(room, participant, request.update_metadata)
    elif which == "leave":
        return False
    return True


async def subscription(room: Room, participant: Participant, track_sid: str, subscribe: bool) -> None:
    if not subscribe:
        participant.unsubscribe(track_sid)
        return
    for other in room.others(participant):
        track = other.published.get(track_sid)
        if track is not None and track.source is not None and other.visible:
            await participant.subscribe(track)


async def update_metadata(room: Room, participant: Participant, update: signal.UpdateParticipantMetadata) -> None:
    participant.info.attributes.update(update.attributes)
    if update.metadata:
        participant.info.metadata = update.metadata
    if update.name:
        participant.info.name = update.name
    participant.changed()
    await participant.send(signal.SignalResponse(request_response=signal.RequestResponse(
        request_id=update.request_id, reason=signal.RequestResponse.OK)))
    await room.announce(participant)
