"""Run the embedded room server: ``python -m embedded_stack.room_server --port P --api-key K --api-secret S``."""

from __future__ import annotations

import argparse
import logging

import uvicorn

from contracts.logs import configure_logging
from embedded_stack.room_server.network import advertise, interface_addresses
from embedded_stack.room_server.server import RoomServer

logger = logging.getLogger("embedded_stack.room_server")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--api-secret", required=True)
    parser.add_argument("--host", default="127.0.0.1", help="address the HTTP and websocket side listens on")
    parser.add_argument("--advertise", action="append", metavar="ADDR",
                        help="address to offer clients for media (repeatable); default: the host's "
                             "non-loopback interface addresses")
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args()
    configure_logging("room-server", args.log_level)
    # uvicorn logs each websocket's URL, which carries the access token; aioice logs every ICE check.
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)
    logging.getLogger("aioice").setLevel(logging.WARNING)
    advertise(args.advertise or interface_addresses())
    server = RoomServer(args.api_key, args.api_secret)
    logger.info("room server listening", extra={"host": args.host, "port": args.port})
    uvicorn.run(server.app(), host=args.host, port=args.port, log_config=None, access_log=False)


if __name__ == "__main__":
    main()
