"""Voice calls: the LiveKit room of a call, created with the agent dispatched into it, and closed when
the call ends (livekit-api)."""

from __future__ import annotations

from uuid import UUID

from livekit import api

from call_router.config import Settings
from contracts.calls import RoomDispatch

EMPTY_ROOM_SECONDS = 300  # a customer who never joins does not leave a room open for long


def livekit(settings: Settings) -> api.LiveKitAPI:
    return api.LiveKitAPI(settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret, failover=False)


async def open_room(settings: Settings, room: str, supervisor_id: UUID, agent_id: UUID, call_id: UUID) -> None:
    """Create the room and dispatch the agent into it. Idempotent: LiveKit returns an existing room."""
    metadata = RoomDispatch(supervisor_id=supervisor_id, agent_id=agent_id, call_id=call_id).model_dump_json()
    async with livekit(settings) as server:
        await server.room.create_room(api.CreateRoomRequest(
            name=room, empty_timeout=EMPTY_ROOM_SECONDS, max_participants=3, metadata=metadata,
            agents=[api.RoomAgentDispatch(agent_name=settings.livekit_agent_name, metadata=metadata)]))


async def close_room(settings: Settings, room: str) -> None:
    """Everyone still in the room (the customer) is disconnected: the call is over for them too."""
    async with livekit(settings) as server:
        await server.room.delete_room(api.DeleteRoomRequest(room=room))
