"""Run the embedded room server: ``python -m embedded_stack.room_server --port P``, with the API key and
secret from LIVEKIT_API_KEY / LIVEKIT_API_SECRET (the variables every service reads; not on the command
line, where any local user's ``ps`` would show the secret)."""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn

from contracts.logs import configure_logging
from embedded_stack.room_server.network import advertise, interface_addresses
from embedded_stack.room_server.server import RoomServer

logger = logging.getLogger("embedded_stack.room_server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1", help="address the HTTP and websocket side listens on")
    parser.add_argument("--advertise", action="append", metavar="ADDR",
                        default=[a for a in os.environ.get("ROOM_SERVER_ADVERTISE", "").split(",") if a.strip()],
                        help="address to offer clients for media (repeatable; or ROOM_SERVER_ADVERTISE, comma-"
                             "separated); default: the host's non-loopback interface addresses")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    key, secret = os.environ.get("LIVEKIT_API_KEY"), os.environ.get("LIVEKIT_API_SECRET")
    if not key or not secret:
        parser.error("set LIVEKIT_API_KEY and LIVEKIT_API_SECRET: room tokens are signed with them")
    configure_logging("room-server", args.log_level)
    # uvicorn logs each websocket's URL, which carries the access token; aioice logs every ICE check.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    logging.getLogger("aioice").setLevel(logging.WARNING)
    advertise(args.advertise or interface_addresses())
    server = RoomServer(key, secret)
    logger.info("room server listening", extra={"host": args.host, "port": args.port})
    uvicorn.run(server.app(), host=args.host, port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
