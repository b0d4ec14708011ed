"""LiveKit room tokens: each opens one call's room, with the grants its holder needs and no more."""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from livekit import api as livekit_api

from contracts.calls import customer_identity, livekit_room_name, supervisor_identity
from gateway.config import Settings
from gateway.schemas import LiveKitJoin

# A listener's room token: long enough for any call, short enough that a leaked one soon stops working.
LISTEN_TOKEN_LIFETIME = timedelta(hours=1)


def call_room_token(settings: Settings, call_id: UUID, identity: str, name: str, lifetime: timedelta,
                    **grants: bool) -> LiveKitJoin:
    """A LiveKit token that joins this call's room and no other, with ``grants`` (VideoGrants' flags)."""
    room = livekit_room_name(call_id)
    token = (livekit_api.AccessToken(settings.livekit_api_key, settings.livekit_api_secret)
             .with_identity(identity).with_name(name).with_ttl(lifetime)
             .with_grants(livekit_api.VideoGrants(room_join=True, room=room, **grants))
             .to_jwt())
    return LiveKitJoin(url=settings.livekit_url or "", room=room, token=token)


def customer_join(settings: Settings, call_id: UUID, caller: str, lifetime: timedelta) -> LiveKitJoin:
    """The customer's token: they speak, hear and type (the room waits for them while queued)."""
    return call_room_token(settings, call_id, customer_identity(call_id), caller, lifetime,
                           can_publish=True, can_subscribe=True, can_publish_data=True)


def listener_join(settings: Settings, call_id: UUID, supervisor_id: UUID, name: str) -> LiveKitJoin:
    """A supervisor's listening token: hidden and unable to publish, so neither the customer nor the
    agent knows, or hears, the listener."""
    return call_room_token(settings, call_id, f"supervisor-{supervisor_id}-{call_id}", name, LISTEN_TOKEN_LIFETIME,
                           can_publish=False, can_subscribe=True, can_publish_data=False, hidden=True)


def takeover_join(settings: Settings, call_id: UUID, name: str) -> LiveKitJoin:
    """The token of a supervisor who took a voice call over: seen and heard by the customer, whom they
    hear, under the one identity the agent transcribes as the supervisor's."""
    return call_room_token(settings, call_id, supervisor_identity(call_id), name, LISTEN_TOKEN_LIFETIME,
                           can_publish=True, can_subscribe=True, can_publish_data=True)
