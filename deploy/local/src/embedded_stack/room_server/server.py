"""The embedded room server: one process that speaks enough of LiveKit for the platform's voice calls on one
machine, for development and demos. Production uses a LiveKit server or LiveKit Cloud; this is no SFU (one
node, audio decoded and re-encoded per subscriber, no simulcast, video accepted but not forwarded).

It serves, on one HTTP port:
- /rtc/v1 (and /rtc/v1/validate): client signalling, so livekit-client and the Python rtc SDK join rooms,
  publish audio, hear each other and exchange data (the older /rtc, two peer connections, is refused: both
  clients use /rtc/v1 unless told otherwise, and validation never sends them back to /rtc);
- /agent: the agent-worker protocol livekit-agents registers with, and job dispatch;
- /twirp/livekit.RoomService/…: CreateRoom, DeleteRoom, ListParticipants for livekit-api.
"""

from __future__ import annotations

import logging
from typing import Any

from aiortc.contrib.media import MediaRelay
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import PlainTextResponse, Response
from livekit.protocol import models
from livekit.protocol import room as room_proto

from embedded_stack.room_server import agents, api, signalling
from embedded_stack.room_server.auth import Credentials, Refused
from embedded_stack.room_server.rooms import Participant, Room

logger = logging.getLogger(__name__)

VERSION = "1.9.0-embedded"  # what clients see as the server version; LiveKit-shaped so version checks pass


class RoomServer:
    def __init__(self, api_key: str, api_secret: str) -> None:
        self.credentials = Credentials(api_key, api_secret)
        self.version = VERSION
        self.rooms: dict[str, Room] = {}
        self.relay = MediaRelay()
        self.dispatcher = agents.Dispatcher(self.credentials, self.version)

    def authorize_api(self, token: str, permission: str, room: str | None = None) -> None:
        self.credentials.grant(token, permission, room)

    def join_claims(self, token: str) -> dict[str, Any]:
        """The claims of a token that may join a room: it names one, with the roomJoin grant."""
        claims = self.credentials.grant(token, "roomJoin")
        if not claims["video"].get("room"):
            raise Refused("permission denied: the token names no room", 403)
        if not claims.get("sub"):
            raise Refused("invalid token: no identity", 401)
        return claims

    def room(self, name: str) -> Room:
        """The room, created on first join as LiveKit does by default."""
        if name not in self.rooms:
            self.rooms[name] = Room(name, self.relay, self.on_data)
            logger.info("room opened", extra={"room": name})
        return self.rooms[name]

    async def create_room(self, request: room_proto.CreateRoomRequest) -> Room:
        room = self.room(request.name)
        room.created_by_api = True
        room.info.metadata, room.info.empty_timeout = request.metadata, request.empty_timeout
        room.info.max_participants = request.max_participants
        for dispatch in request.agents:
            await self.dispatch(room, dispatch)
        return room

    async def dispatch(self, room: Room, dispatch: room_proto.RoomAgentDispatch) -> None:
        await self.dispatcher.dispatch(room.info, dispatch)

    async def delete_room(self, name: str) -> None:
        room = self.rooms.pop(name, None)
        self.dispatcher.forget(name)
        if room is not None:
            await room.close(models.DisconnectReason.ROOM_DELETED)
            logger.info("room deleted", extra={"room": name})

    def left(self, room: Room) -> None:
        """A participant left: a room nobody created through the API goes when it is empty."""
        if not room.participants and not room.created_by_api and self.rooms.get(room.name) is room:
            del self.rooms[room.name]

    def on_data(self, room: Room, sender: Participant, packet: models.DataPacket) -> None:
        """Called for every data packet forwarded; the place to observe a room's data."""

    def app(self) -> FastAPI:
        app = FastAPI(title="Embedded room server")
        app.include_router(api.room_service(self))

        @app.websocket("/rtc/v1")
        async def join_room(socket: WebSocket) -> None:
            await signalling.serve(self, socket)

        @app.websocket("/rtc")
        async def two_connection_join(socket: WebSocket) -> None:
            # Clients only come here when asked for two peer connections; validation never sends them.
            await socket.send_denial_response(PlainTextResponse(
                "this development room server speaks single peer connection signalling only: use /rtc/v1", 404))

        @app.get("/rtc/v1/validate")
        @app.get("/rtc/validate")
        async def validate(request: Request) -> Response:
            return signalling.validate(self, request)

        @app.websocket("/agent")
        async def agent_worker(socket: WebSocket) -> None:
            await self.dispatcher.serve(socket)

        @app.get("/")
        async def health() -> Response:
            return Response("OK")

        return app
