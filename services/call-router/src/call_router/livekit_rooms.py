"""Voice calls' LiveKit rooms (livekit-api): created with the agent dispatched into it, watched until an
agent is in it, closed when the call ends."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from uuid import UUID

import asyncpg
from livekit import api

from call_router.config import Settings
from contracts.bus import Bus
from contracts.calls import CallEnded, CallHangup, CallRef, CallStarted, livekit_room_name

log = logging.getLogger("call_router.rooms")
EMPTY_ROOM_SECONDS = 300  # a customer who never joins does not leave a room open for long


def livekit(settings: Settings) -> api.LiveKitAPI:
    return api.LiveKitAPI(settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret, failover=False)


async def open_room(settings: Settings, room: str, supervisor_id: UUID, agent_id: UUID, call_id: UUID) -> None:
    """Create the room and dispatch the agent into it. Idempotent: LiveKit returns an existing room."""
    metadata = CallRef(supervisor_id=supervisor_id, agent_id=agent_id, call_id=call_id).model_dump_json()
    async with livekit(settings) as server:
        await server.room.create_room(api.CreateRoomRequest(
            name=room, empty_timeout=EMPTY_ROOM_SECONDS, max_participants=3, metadata=metadata,
            agents=[api.RoomAgentDispatch(agent_name=settings.livekit_agent_name, metadata=metadata)]))


async def close_room(settings: Settings, room: str) -> None:
    """Everyone still in the room (the customer) is disconnected: the call is over for them too."""
    async with livekit(settings) as server:
        await server.room.delete_room(api.DeleteRoomRequest(room=room))


async def agent_in_room(settings: Settings, room: str) -> bool:
    async with livekit(settings) as server:
        participants = await server.room.list_participants(api.ListParticipantsRequest(room=room))
    return any(p.kind == api.ParticipantInfo.Kind.AGENT for p in participants.participants)


@dataclass
class VoiceRooms:
    """What the router does with a voice call's room around its routing decisions."""

    pool: asyncpg.Pool
    bus: Bus
    settings: Settings
    _watches: set[asyncio.Task[None]] = field(default_factory=set)

    async def open(self, started: CallStarted, room: str) -> None:
        try:
            await open_room(self.settings, room, started.supervisor_id, started.agent_id, started.call_id)
        except Exception as exc:
            log.error("LiveKit room %s could not be opened: %s; ending the call", room, exc)
            await self._fail(started, "the voice room could not be opened")
            return
        watch = asyncio.create_task(self._watch(started, room))
        self._watches.add(watch)
        watch.add_done_callback(self._watches.discard)

    async def _watch(self, started: CallStarted, room: str) -> None:
        """No agent in the room in time (no agent-worker registered, or none could take the call): end
        the call as an error rather than leave the customer in a silent room."""
        await asyncio.sleep(self.settings.agent_join_timeout_seconds)
        if await self.pool.fetchval("select status from calls where id = $1", started.call_id) != "active":
            return
        try:
            joined = await agent_in_room(self.settings, room)
        except Exception as exc:  # LiveKit away: not a reason to end a call that may be going well
            log.warning("could not check for the agent in room %s: %s", room, exc)
            return
        if not joined:
            log.error("no agent joined room %s within %.0f s; ending the call", room,
                      self.settings.agent_join_timeout_seconds)
            await self._fail(started, "no agent joined the voice room")

    async def close(self, ended: CallEnded) -> None:
        room = livekit_room_name(ended.call_id)
        try:
            await close_room(self.settings, room)
        except Exception as exc:  # already gone, or LiveKit away: its empty-room timeout closes it
            log.warning("LiveKit room %s could not be closed: %s", room, exc)

    async def _fail(self, started: CallStarted, why: str) -> None:
        await self.bus.publish(CallHangup(supervisor_id=started.supervisor_id, agent_id=started.agent_id,
                                          call_id=started.call_id, by="agent", reason=why,
                                          failed=True))

    def stop(self) -> None:
        for watch in self._watches:
            watch.cancel()
