"""Outbound URLs that tenants configure (their providers, their webhooks) must not point the
platform at its own network: loopback, private, link-local and reserved addresses are refused
outside development."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlparse


def private_host(url: str) -> str | None:
    """The address that makes this URL internal, or None when every address is public."""
    host = urlparse(url).hostname
    if not host:
        return "no host"
    try:
        infos = socket.getaddrinfo(host, None)
    except socket.gaierror:
        return None  # unresolvable now: connecting will fail, and be retried
    for info in infos:
        addr = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        if (
            addr.is_private
            or addr.is_loopback
            or addr.is_link_local
            or addr.is_reserved
            or addr.is_multicast
            or addr.is_unspecified
        ):
            return str(addr)
    return None
