"""LiveKit's agent-worker protocol (a websocket at /agent, protobuf WorkerMessage / ServerMessage), enough for
livekit-agents' AgentServer: a worker registers under an agent name; a room created with that agent dispatched
offers the worker the job (AvailabilityRequest), and a worker that accepts is assigned it with a join token.
A job offered before any worker of that name registered waits for the first one.

A job that fails (its process died: the worker reports JS_FAILED) or whose worker goes away is offered
again, as LiveKit's default restart policy (JRP_ON_FAILURE) does: the agent-worker's restarted job takes
the call up where it was left. A worker that went is given a grace to come back first: livekit-agents
reconnects a dropped connection and reports the jobs it still runs (MigrateJobRequest), which stay
its own (a second job in the room would compete with the first for the call). A room's job is
restarted a few times at most (a job that keeps failing would otherwise loop)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from dataclasses import dataclass, field

from fastapi import WebSocket, WebSocketDisconnect
from google.protobuf.message import DecodeError
from livekit import api
from livekit.protocol import agent as agent_proto
from livekit.protocol import models
from livekit.protocol import room as room_proto
from starlette.websockets import WebSocketDisconnected

from embedded_stack.room_server.auth import Credentials, Refused, bearer

logger = logging.getLogger(__name__)

AGENT_PROTOCOL = 16
RESTARTS_PER_JOB = 3
WORKER_GRACE_SECONDS = 10.0  # livekit-agents retries a lost connection after 0, 2, 4… s


@dataclass
class Offer:
    """A job offered to a worker, and what it answered."""

    job: agent_proto.Job
    available: bool | None = None
    identity: str = ""
    name: str = ""
    worker_id: str = ""  # the worker it is assigned to
    restarts: int = 0


@dataclass
class Dispatcher:
    credentials: Credentials
    version: str
    registered: list[agent_proto.RegisterWorkerRequest] = field(default_factory=list)
    offers: dict[str, Offer] = field(default_factory=dict)  # by room name
    worker_grace_seconds: float = WORKER_GRACE_SECONDS
    _queues: dict[str, asyncio.Queue[agent_proto.ServerMessage]] = field(default_factory=dict)  # by agent name

    def _queue(self, agent_name: str) -> asyncio.Queue[agent_proto.ServerMessage]:
        return self._queues.setdefault(agent_name, asyncio.Queue())

    async def dispatch(self, room: models.Room, dispatch: room_proto.RoomAgentDispatch) -> None:
        job = agent_proto.Job(id=f"AJ_{room.sid}", dispatch_id=f"AD_{room.sid}", type=agent_proto.JobType.JT_ROOM,
                              room=room, metadata=dispatch.metadata, agent_name=dispatch.agent_name)
        self.offers[room.name] = offer = Offer(job)
        self._offer(offer)

    def _offer(self, offer: Offer) -> None:
        self._queue(offer.job.agent_name).put_nowait(
            agent_proto.ServerMessage(availability=agent_proto.AvailabilityRequest(job=offer.job)))
        logger.info("job offered", extra={"room": offer.job.room.name, "agent_name": offer.job.agent_name,
                                          "restart": offer.restarts})

    def _restart(self, offer: Offer, why: str) -> None:
        if self.offers.get(offer.job.room.name) is not offer:
            return  # the room is gone
        if offer.restarts >= RESTARTS_PER_JOB:
            logger.warning("a room's job failed again; not restarted", extra={"room": offer.job.room.name})
            return
        logger.info("restarting a room's job: %s", why, extra={"room": offer.job.room.name})
        offer.restarts += 1
        offer.available, offer.worker_id = None, ""
        # A new job id: the worker may still hold the failed one among its jobs.
        offer.job.id = f"AJ_{offer.job.room.sid}_{offer.restarts}"
        self._offer(offer)

    def forget(self, room: str) -> None:
        self.offers.pop(room, None)

    def join_token(self, room: str, identity: str, name: str) -> str:
        return (api.AccessToken(self.credentials.api_key, self.credentials.api_secret).with_identity(identity)
                .with_name(name).with_kind("agent")
                .with_grants(api.VideoGrants(room_join=True, room=room, agent=True)).to_jwt())

    async def serve(self, socket: WebSocket) -> None:
        try:
            self.credentials.grant(bearer(socket.headers.get("authorization", "")), "agent")
        except Refused as refused:
            await socket.close(code=4401, reason=str(refused))
            return
        await socket.accept()
        register = agent_proto.WorkerMessage.FromString(await socket.receive_bytes()).register
        self.registered.append(register)
        worker_id = f"AW_{len(self.registered)}"
        await socket.send_bytes(agent_proto.ServerMessage(register=agent_proto.RegisterWorkerResponse(
            worker_id=worker_id,
            server_info=models.ServerInfo(edition=models.ServerInfo.Standard, version=self.version,
                                          protocol=AGENT_PROTOCOL))).SerializeToString())
        logger.info("agent worker registered", extra={"agent_name": register.agent_name})
        outgoing = self._queue(register.agent_name)

        async def send() -> None:
            while True:
                await socket.send_bytes((await outgoing.get()).SerializeToString())

        sender = asyncio.create_task(send())
        try:
            while True:
                await self.from_worker(agent_proto.WorkerMessage.FromString(await socket.receive_bytes()),
                                       outgoing, worker_id)
        except (WebSocketDisconnect, WebSocketDisconnected):
            logger.info("agent worker left", extra={"agent_name": register.agent_name})
        except DecodeError:
            logger.warning("a malformed message from an agent worker; closing its connection",
                           extra={"agent_name": register.agent_name})
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender
            if left := [o for o in self.offers.values() if o.worker_id == worker_id]:
                asyncio.get_running_loop().call_later(self.worker_grace_seconds, self._restart_unless_back, left,
                                                      worker_id)

    def _restart_unless_back(self, offers: list[Offer], worker_id: str) -> None:
        for offer in offers:
            if offer.worker_id == worker_id:  # not taken back by the worker reconnecting
                self._restart(offer, "its worker left")

    async def from_worker(self, message: agent_proto.WorkerMessage,
                          outgoing: asyncio.Queue[agent_proto.ServerMessage], worker_id: str) -> None:
        which = message.WhichOneof("message")
        if which == "ping":
            await outgoing.put(agent_proto.ServerMessage(pong=agent_proto.WorkerPong(
                last_timestamp=message.ping.timestamp, timestamp=int(time.time() * 1000))))
        elif which == "availability":
            answer = message.availability
            offer = next((o for o in self.offers.values() if o.job.id == answer.job_id), None)
            if offer is None:
                return
            offer.available, offer.identity, offer.name = (answer.available, answer.participant_identity,
                                                           answer.participant_name)
            if answer.available:
                room, offer.worker_id = offer.job.room.name, worker_id
                await outgoing.put(agent_proto.ServerMessage(assignment=agent_proto.JobAssignment(
                    job=offer.job, token=self.join_token(room, answer.participant_identity,
                                                         answer.participant_name))))
        elif which == "migrate_job":
            for offer in self.offers.values():
                if offer.job.id in message.migrate_job.job_ids:
                    offer.worker_id = worker_id
        elif which == "update_job" and message.update_job.status == agent_proto.JobStatus.JS_FAILED:
            failed = next((o for o in self.offers.values() if o.job.id == message.update_job.job_id), None)
            if failed is not None:
                self._restart(failed, "its job failed")
