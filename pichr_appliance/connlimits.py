"""Connection caps per worker process: per client address, and in all.

Each open connection holds a file descriptor. Without a cap, 2,200 slow connections
used up the descriptor limit and normal requests failed (issue 15). So a worker accepts
at most ``server.max_connections`` connections (0: its descriptor limit less a reserve
for storage files, the databases and the HEIC child) and at most
``server.max_connections_per_address`` from one address. A connection over a cap is
answered at once with 503 ``too_many_connections`` and closed, before Sanic sees it.

Trusted proxies (``server.trusted_proxies``) are exempt from the per-address cap: one
proxy carries many clients, and limits them itself (docs/reliability.md).
"""

from __future__ import annotations

import ipaddress
import json
import resource
from collections import Counter
from typing import Any

# Descriptors a worker keeps for what is not a client connection (open objects being
# streamed, SQLite files and their WAL, the rate-limit file, pipes, the listener).
RESERVE = 256


def default_max_connections() -> int:
    """The global cap when ``server.max_connections`` is 0: below the descriptor limit."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        soft = 65536
    return max(16, soft - RESERVE)


def refusal() -> bytes:
    """The whole HTTP answer sent to a connection over a cap."""
    body = json.dumps(
        {
            "error": "Too many open connections; try again shortly",
            "code": "too_many_connections",
        }
    ).encode()
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        "Content-Type: application/json; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\n"
        "Retry-After: 1\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode() + body


class ConnectionCaps:
    """Open connections of this process by address, against the two caps."""

    def __init__(self, per_address: int, total: int, exempt: list[str]) -> None:
        self.per_address = per_address  # 0: no per-address cap
        self.total = total or default_max_connections()
        self.exempt = [ipaddress.ip_network(n, strict=False) for n in exempt]
        self.open: Counter[str] = Counter()
        self.count = 0
        self.refused = 0

    def _exempt(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.exempt)

    def admit(self, address: str) -> bool:
        """Count a new connection from ``address``; False (not counted) when over a cap."""
        over_address = (
            self.per_address
            and self.open[address] >= self.per_address
            and not self._exempt(address)
        )
        if self.count >= self.total or over_address:
            self.refused += 1
            return False
        self.open[address] += 1
        self.count += 1
        return True

    def release(self, address: str) -> None:
        """A counted connection from ``address`` closed."""
        self.count -= 1
        self.open[address] -= 1
        if self.open[address] <= 0:
            del self.open[address]


def caps_for(app: Any) -> ConnectionCaps:
    """This worker's caps (one per process, made from the app's settings on first use)."""
    caps = getattr(app.ctx, "connection_caps", None)
    if caps is None:
        server = app.ctx.runtime.settings.server
        caps = app.ctx.connection_caps = ConnectionCaps(
            server.max_connections_per_address, server.max_connections, server.trusted_proxies
        )
    return caps
