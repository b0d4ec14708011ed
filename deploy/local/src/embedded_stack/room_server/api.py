"""LiveKit's server API, the part livekit-api's RoomService uses here: Twirp over HTTP with protobuf bodies
(CreateRoom, DeleteRoom, ListParticipants), each call's bearer token checked for the grant LiveKit requires."""

from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from livekit.protocol import room as room_proto

from embedded_stack.room_server.auth import Refused, bearer

if TYPE_CHECKING:
    from embedded_stack.room_server.server import RoomServer

TWIRP_CODES = {401: "unauthenticated", 403: "permission_denied", 404: "not_found", 503: "unavailable"}


def twirp_error(refused: Refused) -> Response:
    return JSONResponse({"code": TWIRP_CODES.get(refused.status, "internal"), "msg": str(refused)}, refused.status)


def protobuf(message: object) -> Response:
    return Response(message.SerializeToString(), media_type="application/protobuf")  # type: ignore[attr-defined]


def room_service(server: RoomServer) -> APIRouter:
    router = APIRouter(prefix="/twirp/livekit.RoomService")

    def refusal(request: Request, permission: str, room: str | None = None) -> Response | None:
        """The Twirp error when the call's token lacks the permission (for ``room``, when it names one)."""
        try:
            server.authorize_api(bearer(request.headers.get("authorization", "")), permission, room)
        except Refused as refused:
            return twirp_error(refused)
        return None

    @router.post("/CreateRoom")
    async def create_room(request: Request) -> Response:
        if (refused := refusal(request, "roomCreate")) is not None:
            return refused
        room = await server.create_room(room_proto.CreateRoomRequest.FromString(await request.body()))
        return protobuf(room.info)

    @router.post("/DeleteRoom")
    async def delete_room(request: Request) -> Response:
        if (refused := refusal(request, "roomCreate")) is not None:
            return refused
        await server.delete_room(room_proto.DeleteRoomRequest.FromString(await request.body()).room)
        return protobuf(room_proto.DeleteRoomResponse())

    @router.post("/ListParticipants")
    async def list_participants(request: Request) -> Response:
        listed = room_proto.ListParticipantsRequest.FromString(await request.body())
        if (refused := refusal(request, "roomAdmin", listed.room)) is not None:
            return refused
        room = server.rooms.get(listed.room)
        participants = [] if room is None else [p.info for p in room.participants.values()]
        return protobuf(room_proto.ListParticipantsResponse(participants=participants))

    return router
