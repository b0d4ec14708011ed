"""A local stand-in for LiveKit's server API (Twirp over HTTP, protobuf bodies), so livekit-api runs
for real: RoomService.CreateRoom, checking the bearer token's grants as LiveKit does."""

from __future__ import annotations

from dataclasses import dataclass, field

import jwt
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from livekit.protocol import room as room_proto


@dataclass
class FakeLiveKit:
    api_key: str
    api_secret: str
    rooms: dict[str, room_proto.CreateRoomRequest] = field(default_factory=dict)
    fail: bool = False

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/twirp/livekit.RoomService/CreateRoom")
        async def create_room(request: Request) -> Response:
            if self.fail:
                return JSONResponse({"code": "unavailable", "msg": "fake outage"}, 503)
            token = request.headers.get("authorization", "").removeprefix("Bearer ")
            try:
                claims = jwt.decode(token, self.api_secret, algorithms=["HS256"], options={"verify_aud": False})
            except jwt.PyJWTError as exc:
                return JSONResponse({"code": "unauthenticated", "msg": str(exc)}, 401)
            if claims.get("iss") != self.api_key or not claims.get("video", {}).get("roomCreate"):
                return JSONResponse({"code": "permission_denied", "msg": "needs roomCreate"}, 403)
            created = room_proto.CreateRoomRequest.FromString(await request.body())
            self.rooms[created.name] = created
            room = room_proto.Room(sid=f"RM_{len(self.rooms)}", name=created.name, metadata=created.metadata,
                                   empty_timeout=created.empty_timeout, max_participants=created.max_participants)
            return Response(room.SerializeToString(), media_type="application/protobuf")

        return app
