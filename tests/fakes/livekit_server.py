"""The embedded room server (embedded_stack.room_server) with the knobs tests need and a product must not
have: an outage of the server API (``fail``), joins refused as by a LiveKit server unreachable for media
(``rooms_open``), no worker taking dispatched jobs (``dispatching``), and what it saw: the rooms created
(``rooms``, the CreateRoomRequests by name), deleted (``deleted``), the jobs offered (``offers``), the workers
registered (``registered``) and, per room, every finished text stream it forwarded (``sfu.texts``: sender
identity, topic, text)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from livekit.protocol import agent as agent_proto
from livekit.protocol import models
from livekit.protocol import room as room_proto

from embedded_stack.room_server import RoomServer
from embedded_stack.room_server.agents import Offer
from embedded_stack.room_server.auth import Refused
from embedded_stack.room_server.network import advertise, interface_addresses
from embedded_stack.room_server.rooms import Participant, Room


@dataclass
class TextStream:
    sender: str
    topic: str
    parts: list[bytes] = field(default_factory=list)


@dataclass
class Traffic:
    texts: dict[str, list[tuple[str, str, str]]] = field(default_factory=dict)
    open_streams: dict[str, TextStream] = field(default_factory=dict)

    def saw(self, room: str, sender: str, packet: models.DataPacket) -> None:
        which = packet.WhichOneof("value")
        if which == "stream_header" and packet.stream_header.HasField("text_header"):
            self.open_streams[packet.stream_header.stream_id] = TextStream(sender, packet.stream_header.topic)
        elif which == "stream_chunk" and (stream := self.open_streams.get(packet.stream_chunk.stream_id)):
            stream.parts.append(packet.stream_chunk.content)
        elif which == "stream_trailer" and (stream := self.open_streams.pop(packet.stream_trailer.stream_id, None)):
            self.texts.setdefault(room, []).append((stream.sender, stream.topic, b"".join(stream.parts).decode()))


class InstrumentedRoomServer(RoomServer):
    def __init__(self, fake: FakeLiveKit) -> None:
        super().__init__(fake.api_key, fake.api_secret)
        self.fake = fake

    def authorize_api(self, token: str, permission: str, room: str | None = None) -> None:
        if self.fake.fail:
            raise Refused("fake outage", 503)
        super().authorize_api(token, permission, room)

    def join_claims(self, token: str) -> dict[str, Any]:
        if not self.fake.rooms_open:
            raise Refused("fake: rooms unreachable", 503)
        return super().join_claims(token)

    async def create_room(self, request: room_proto.CreateRoomRequest) -> Room:
        self.fake.rooms[request.name] = request
        return await super().create_room(request)

    async def dispatch(self, room: Room, dispatch: room_proto.RoomAgentDispatch) -> None:
        if self.fake.dispatching:
            await super().dispatch(room, dispatch)

    async def delete_room(self, name: str) -> None:
        self.fake.deleted.append(name)
        await super().delete_room(name)

    def on_data(self, room: Room, sender: Participant, packet: models.DataPacket) -> None:
        self.fake.sfu.saw(room.name, sender.identity, packet)


@dataclass
class FakeLiveKit:
    api_key: str
    api_secret: str
    rooms: dict[str, room_proto.CreateRoomRequest] = field(default_factory=dict)
    deleted: list[str] = field(default_factory=list)
    fail: bool = False
    rooms_open: bool = True
    dispatching: bool = True  # false: as if no worker were registered under the dispatched agent name
    sfu: Traffic = field(default_factory=Traffic)
    server: InstrumentedRoomServer = field(init=False)

    def __post_init__(self) -> None:
        advertise(interface_addresses())
        self.server = InstrumentedRoomServer(self)

    @property
    def offers(self) -> dict[str, Offer]:
        return self.server.dispatcher.offers

    @property
    def registered(self) -> list[agent_proto.RegisterWorkerRequest]:
        return self.server.dispatcher.registered

    def app(self) -> FastAPI:
        return self.server.app()
