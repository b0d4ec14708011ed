"""The embedded room server: LiveKit's signalling, agent-worker protocol and RoomService API with audio
forwarding, so `make run` offers voice calls without a LiveKit server (one machine, development and demos;
production uses a LiveKit server or LiveKit Cloud)."""

from embedded_stack.room_server.server import RoomServer

__all__ = ["RoomServer"]
