"""Who is calling, and whether they may: hourly API and upload limits, login guards.

Limits come from the caller's plan (``plans.<name>``): signed-in callers are counted
per user, anonymous ones per client address. The address is the socket's peer unless
that peer is one of ``server.trusted_proxies``; only then are ``Forwarded`` and
``X-Forwarded-For`` read, right to left, skipping the trusted hops.
"""

from __future__ import annotations

import ipaddress
import time
from functools import lru_cache
from typing import Any

from ..errors import ApiError
from ..limits import Decision, RateLimitStore

HOUR = 3600
# Probes for load balancers and the contract document are not API calls worth counting.
EXEMPT_PATHS = frozenset({"/api/v1/health", "/api/v1/openapi.json"})


@lru_cache(maxsize=32)
def _networks(proxies: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(p, strict=False) for p in proxies)


def _trusted(address: str, networks: tuple) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip("[]"))
    except ValueError:
        return False
    return any(ip in net for net in networks)


def _forwarded_chain(headers: Any) -> list[str]:
    """Addresses named by ``Forwarded`` (preferred) or ``X-Forwarded-For``, in order."""
    forwarded = headers.get("forwarded")
    chain: list[str] = []
    if forwarded:
        for element in forwarded.split(","):
            for pair in element.split(";"):
                name, _, value = pair.strip().partition("=")
                if name.lower() == "for" and value:
                    value = value.strip('"')
                    if value.startswith("["):  # [v6]:port
                        value = value[1 : value.find("]")]
                    elif value.count(":") == 1:  # v4:port
                        value = value.split(":")[0]
                    chain.append(value)
        return chain
    xff = headers.get("x-forwarded-for")
    if xff:
        chain = [part.strip() for part in xff.split(",") if part.strip()]
    return chain


def client_ip(request: Any, trusted_proxies: list[str]) -> str:
    """The address to count an anonymous caller by (see the module docstring)."""
    peer = request.conn_info.client_ip if request.conn_info else ""
    networks = _networks(tuple(trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    for address in reversed(_forwarded_chain(request.headers)):
        if not _trusted(address, networks):
            return address
    return peer


class RateLimiter:
    """Plan-based limits on top of a :class:`RateLimitStore`."""

    def __init__(self, settings: Any, store: RateLimitStore) -> None:
        self.settings = settings
        self.store = store

    @property
    def enabled(self) -> bool:
        """False when ``rate_limits.enabled`` is off (every check then passes)."""
        return self.settings.rate_limits.enabled

    def _plan(self, user: Any) -> Any:
        plans = self.settings.plans
        name = user.plan if user is not None else "anonymous"
        return plans.get(name) or plans[self.settings.auth.default_plan]

    def subject(self, request: Any, user: Any) -> str:
        """``user:<id>`` or ``ip:<address>``."""
        if user is not None:
            return f"user:{user.id}"
        return f"ip:{client_ip(request, self.settings.server.trusted_proxies)}"

    async def api_call(self, request: Any, user: Any) -> Decision:
        """Count one ``/api/v1`` call; raises 429 when over the plan's hourly limit."""
        limit = self._plan(user).requests_per_hour
        decision = await self.store.hit(f"api:{self.subject(request, user)}", limit, HOUR)
        request.ctx.rate_limit = decision
        if not decision.allowed:
            raise too_many(decision)
        return decision

    async def upload_started(self, request: Any, user: Any) -> None:
        """Count one upload (presign or multipart init); 429 over ``uploads_per_hour``."""
        if not self.enabled:
            return
        limit = self._plan(user).uploads_per_hour
        decision = await self.store.hit(f"upload:{self.subject(request, user)}", limit, HOUR)
        if not decision.allowed:
            raise too_many(decision, "Upload limit exceeded")

    async def login_attempt(self, request: Any, account: str) -> None:
        """Before checking a password: per-address attempts, and the account's failures."""
        if not self.enabled:
            return
        rl = self.settings.rate_limits
        ip = client_ip(request, self.settings.server.trusted_proxies)
        decision = await self.store.hit(f"login-ip:{ip}", rl.login_per_ip_per_hour, HOUR)
        if not decision.allowed:
            raise too_many(decision)
        # Keyed by what was typed, whether or not such an account exists: the answer
        # must not tell the two apart.
        failures = await self.store.hit(
            f"login-fail:{account.strip().lower()}", rl.login_failures_per_account, HOUR, 0
        )
        if failures.remaining <= 0:
            raise too_many(failures)

    async def login_failed(self, account: str) -> None:
        """Record a wrong password for ``account``."""
        if self.enabled:
            rl = self.settings.rate_limits
            await self.store.hit(
                f"login-fail:{account.strip().lower()}", rl.login_failures_per_account, HOUR
            )

    async def login_succeeded(self, account: str) -> None:
        """A right password clears the account's failures."""
        if self.enabled:
            await self.store.reset(f"login-fail:{account.strip().lower()}")

    async def signup_attempt(self, request: Any) -> None:
        """Count one signup from the caller's address; 429 over the hourly limit."""
        if not self.enabled:
            return
        ip = client_ip(request, self.settings.server.trusted_proxies)
        limit = self.settings.rate_limits.signup_per_ip_per_hour
        decision = await self.store.hit(f"signup-ip:{ip}", limit, HOUR)
        if not decision.allowed:
            raise too_many(decision)


def too_many(decision: Decision, message: str = "Rate limit exceeded") -> ApiError:
    """The 429 answer of the contract: ``Retry-After`` and ``retryAfter`` in epoch ms."""
    headers = decision.headers()
    headers["Retry-After"] = str(decision.retry_after(time.time()))
    return ApiError(
        429,
        "rate_limited",
        message,
        headers=headers,
        extra={"retryAfter": decision.reset * 1000, "remaining": 0},
    )
