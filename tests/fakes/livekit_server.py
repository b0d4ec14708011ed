"""A local stand-in for a LiveKit server, so livekit-api and livekit-agents run for real against it:

- the server API (Twirp over HTTP, protobuf bodies): RoomService.CreateRoom, DeleteRoom and
  ListParticipants, checking the bearer token's grants as LiveKit does;
- the agent-worker protocol (a websocket at /agent, protobuf WorkerMessage / ServerMessage): a worker
  registers under an agent name; creating a room with that agent dispatched offers the worker the job
  (AvailabilityRequest), and a worker that takes it is assigned it with a join token.

- rooms (/rtc/v1): participants join with their tokens and exchange data (tests.fakes.livekit_sfu);
  with ``rooms_open`` false a join is refused, as a LiveKit server unreachable for media would do.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import jwt
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from livekit import api
from livekit.protocol import agent as agent_proto
from livekit.protocol import models
from livekit.protocol import room as room_proto

from tests.fakes.livekit_sfu import DataSfu


@dataclass
class Offer:
    """A job offered to a worker, and what it answered."""

    job: agent_proto.Job
    available: bool | None = None
    identity: str = ""
    name: str = ""


@dataclass
class FakeLiveKit:
    api_key: str
    api_secret: str
    rooms: dict[str, room_proto.CreateRoomRequest] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    fail: bool = False
    registered: list[agent_proto.RegisterWorkerRequest] = field(default_factory=list)
    offers: dict[str, Offer] = field(default_factory=dict)  # by room name
    rooms_open: bool = True
    dispatching: bool = True  # false: as if no worker were registered under the dispatched agent name
    sfu: DataSfu = field(init=False)
    _workers: dict[str, asyncio.Queue[agent_proto.ServerMessage]] = field(default_factory=dict)  # by agent name

    def __post_init__(self) -> None:
        self.sfu = DataSfu(self.claims)

    def refusal(self, request: Request, grant: str = "roomCreate") -> Response | None:
        """Why a RoomService call is refused (an outage, a bad token, the grant it needs missing), if it is."""
        if self.fail:
            return JSONResponse({"code": "unavailable", "msg": "fake outage"}, 503)
        try:
            claims = self.claims(request.headers.get("authorization", ""))
        except jwt.PyJWTError as exc:
            return JSONResponse({"code": "unauthenticated", "msg": str(exc)}, 401)
        if not claims.get("video", {}).get(grant):
            return JSONResponse({"code": "permission_denied", "msg": f"needs {grant}"}, 403)
        return None

    def claims(self, authorization: str) -> dict[str, Any]:
        token = authorization.removeprefix("Bearer ")
        claims = jwt.decode(token, self.api_secret, algorithms=["HS256"], options={"verify_aud": False})
        if claims.get("iss") != self.api_key:
            raise jwt.InvalidIssuerError("unknown API key")
        return claims

    async def dispatch(self, room: str, dispatch: room_proto.RoomAgentDispatch, sid: str) -> None:
        """Offer the job to the worker registered under that agent name, as LiveKit's dispatcher does;
        one that registers later gets the offers made before."""
        if not self.dispatching:
            return
        job = agent_proto.Job(id=f"AJ_{room}", dispatch_id=f"AD_{room}", type=agent_proto.JobType.JT_ROOM,
                              room=models.Room(sid=sid, name=room), metadata=dispatch.metadata,
                              agent_name=dispatch.agent_name)
        self.offers[room] = Offer(job)
        await self._workers.setdefault(dispatch.agent_name, asyncio.Queue()).put(
            agent_proto.ServerMessage(availability=agent_proto.AvailabilityRequest(job=job)))

    def join_token(self, room: str, identity: str, name: str) -> str:
        return (api.AccessToken(self.api_key, self.api_secret).with_identity(identity).with_name(name)
                .with_kind("agent").with_grants(api.VideoGrants(room_join=True, room=room, agent=True)).to_jwt())

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/twirp/livekit.RoomService/CreateRoom")
        async def create_room(request: Request) -> Response:
            if (refusal := self.refusal(request)) is not None:
                return refusal
            created = room_proto.CreateRoomRequest.FromString(await request.body())
            self.rooms[created.name] = created
            room = models.Room(sid=f"RM_{len(self.rooms)}", name=created.name, metadata=created.metadata,
                               empty_timeout=created.empty_timeout, max_participants=created.max_participants)
            for dispatch in created.agents:
                await self.dispatch(created.name, dispatch, room.sid)
            return Response(room.SerializeToString(), media_type="application/protobuf")

        @app.post("/twirp/livekit.RoomService/DeleteRoom")
        async def delete_room(request: Request) -> Response:
            if (refusal := self.refusal(request)) is not None:
                return refusal
            room = room_proto.DeleteRoomRequest.FromString(await request.body()).room
            self.deleted.append(room)
            await self.sfu.close(room)
            return Response(room_proto.DeleteRoomResponse().SerializeToString(), media_type="application/protobuf")

        @app.post("/twirp/livekit.RoomService/ListParticipants")
        async def list_participants(request: Request) -> Response:
            if (refusal := self.refusal(request, "roomAdmin")) is not None:
                return refusal
            room = room_proto.ListParticipantsRequest.FromString(await request.body()).room
            listed = room_proto.ListParticipantsResponse(
                participants=[member.info for member in self.sfu.rooms.get(room, {}).values()])
            return Response(listed.SerializeToString(), media_type="application/protobuf")

        @app.websocket("/rtc/v1")
        async def join_room(socket: WebSocket) -> None:
            if not self.rooms_open:
                await socket.close(code=4503)
                return
            await self.sfu.serve(socket)

        @app.websocket("/agent")
        async def agent_worker(socket: WebSocket) -> None:
            try:
                if not self.claims(socket.headers.get("authorization", "")).get("video", {}).get("agent"):
                    raise jwt.InvalidTokenError("needs the agent grant")
            except jwt.PyJWTError:
                await socket.close(code=4401)
                return
            await socket.accept()
            first = agent_proto.WorkerMessage.FromString(await socket.receive_bytes())
            register = first.register
            self.registered.append(register)
            await socket.send_bytes(agent_proto.ServerMessage(register=agent_proto.RegisterWorkerResponse(
                worker_id=f"AW_{len(self.registered)}",
                server_info=models.ServerInfo(edition=models.ServerInfo.Standard, version="fake",
                                              protocol=16))).SerializeToString())
            outgoing = self._workers.setdefault(register.agent_name, asyncio.Queue())

            async def send() -> None:
                while True:
                    await socket.send_bytes((await outgoing.get()).SerializeToString())

            sender = asyncio.create_task(send())
            try:
                while True:
                    await self.from_worker(agent_proto.WorkerMessage.FromString(await socket.receive_bytes()),
                                           outgoing)
            except WebSocketDisconnect:
                pass
            finally:
                sender.cancel()

        return app

    async def from_worker(self, message: agent_proto.WorkerMessage,
                          outgoing: asyncio.Queue[agent_proto.ServerMessage]) -> None:
        which = message.WhichOneof("message")
        if which == "availability":
            answer = message.availability
            offer = next((o for o in self.offers.values() if o.job.id == answer.job_id), None)
            if offer is None:
                return
            offer.available, offer.identity, offer.name = (answer.available, answer.participant_identity,
                                                           answer.participant_name)
            if answer.available:
                room = offer.job.room.name
                await outgoing.put(agent_proto.ServerMessage(assignment=agent_proto.JobAssignment(
                    job=offer.job, token=self.join_token(room, answer.participant_identity,
                                                         answer.participant_name))))
