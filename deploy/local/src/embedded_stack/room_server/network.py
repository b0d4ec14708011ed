"""Which addresses the room server's WebRTC side uses, and the peer connections it makes.

Clients reach the server's media at the ICE candidates it advertises. Like LiveKit's development server,
those are the host's non-loopback interface addresses unless told otherwise: native WebRTC (the Python rtc
SDK, what the agent joins with) never gathers loopback, so a loopback-only server could not be reached.
No STUN or TURN server is ever configured (the server must not talk to the internet), and clients'
``.local`` mDNS candidates are dropped, since resolving them means multicasting on the network.
"""

from __future__ import annotations

import ipaddress
import logging

import aioice.ice
import ifaddr
from aiortc import RTCConfiguration, RTCPeerConnection

logger = logging.getLogger(__name__)


def interface_addresses() -> list[str]:
    """The host's IPv4 interface addresses other than loopback and link-local, in interface order."""
    addresses = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                address = ipaddress.ip_address(ip.ip)
                if not (address.is_loopback or address.is_link_local):
                    addresses.append(ip.ip)
    return addresses


def advertise(addresses: list[str]) -> None:
    """Make every peer connection of this process gather (bind and advertise) exactly these addresses.

    aioice asks ``get_host_addresses`` which local addresses to gather; it is the one place to decide it."""
    chosen = list(addresses)
    if not chosen:
        logger.warning("no address to advertise for media: clients will not be able to connect audio")
    aioice.ice.get_host_addresses = lambda use_ipv4, use_ipv6: [
        address for address in chosen
        if (use_ipv4 and ipaddress.ip_address(address).version == 4)
        or (use_ipv6 and ipaddress.ip_address(address).version == 6)]
    logger.info("advertising media addresses", extra={"addresses": chosen})


def peer_connection() -> RTCPeerConnection:
    # Without a configuration aiortc falls back to a public STUN server.
    return RTCPeerConnection(RTCConfiguration(iceServers=[]))


def is_mdns(candidate: str) -> bool:
    """Whether an ICE candidate line names its host by an mDNS ``.local`` name instead of an address."""
    fields = candidate.removeprefix("a=").removeprefix("candidate:").split()
    return len(fields) > 4 and fields[4].endswith(".local")


def without_mdns_candidates(sdp: str) -> str:
    return "\r\n".join(line for line in sdp.split("\r\n")
                       if not (line.startswith("a=candidate:") and is_mdns(line)))
