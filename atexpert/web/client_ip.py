"""The client's address: the socket peer, or what a trusted reverse proxy says it is.

Only a peer listed in ``settings.trusted_proxies`` is believed: its ``X-Forwarded-For`` is
read from the right, skipping the trusted proxies, and the first other hop is the client.
Anyone else could write any address in that header, so it is ignored.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from pydantic import IPvAnyNetwork
from starlette.requests import HTTPConnection

UNKNOWN = "unknown"

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ip(text: str) -> IPAddress | None:
    try:
        return ipaddress.ip_address(text.strip())
    except ValueError:
        return None


def _trusted(ip: IPAddress | None, proxies: Sequence[IPvAnyNetwork]) -> bool:
    return ip is not None and any(ip in net for net in proxies)


def client_address(request: HTTPConnection, trusted_proxies: Sequence[IPvAnyNetwork]) -> str:
    """The address of the client behind ``request`` (``"unknown"`` without a peer)."""
    peer = request.client.host if request.client is not None else UNKNOWN
    address = _ip(peer)
    if address is None or not _trusted(address, trusted_proxies):
        return peer
    hops = [hop for value in request.headers.getlist("x-forwarded-for") for hop in value.split(",")]
    for hop in reversed(hops):
        ip = _ip(hop)
        if ip is None:  # garbage: stay with the last proxy that can be trusted
            break
        address = ip
        if not _trusted(ip, trusted_proxies):
            break
    return str(address)
