"""A quick reachability probe, so a fetch without network ends in one line instead of minutes of retries."""

from __future__ import annotations

import socket
from collections.abc import Iterable
from urllib.parse import urlparse

PROBE_TIMEOUT_SECS = 5.0


def unreachable_hosts(urls: Iterable[str], timeout: float = PROBE_TIMEOUT_SECS) -> list[str]:
    """The hosts among ``urls`` that do not resolve or accept a TCP connection within ``timeout`` seconds."""
    hosts = sorted({(u.hostname, u.port or (80 if u.scheme == "http" else 443)) for u in map(urlparse, urls)})
    failed = []
    for host, port in hosts:
        if not host:
            continue
        try:
            socket.create_connection((host, port), timeout=timeout).close()
        except OSError:
            failed.append(host)
    return failed
