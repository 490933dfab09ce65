"""The rate-limit policy: hourly API and upload limits per plan, login and signup guards.

Limits come from the caller's plan (``plans.<name>``): signed-in callers are counted
per user, anonymous ones per client address. This module knows nothing of HTTP: it
takes the address as a string (``pichr_appliance.api.middleware.client_ip`` finds it
in a request, proxies included) and counts in a ``pichr_appliance.limits`` store.
"""

from __future__ import annotations

import time
from typing import Any

from ..errors import ApiError
from ..limits import Decision, RateLimitStore

HOUR = 3600


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

    def subject(self, address: str, user: Any) -> str:
        """``user:<id>`` or ``ip:<address>``."""
        if user is not None:
            return f"user:{user.id}"
        return f"ip:{address}"

    async def api_call(self, address: str, user: Any) -> Decision:
        """Count one ``/api/v1`` call; raises 429 when over the plan's hourly limit."""
        limit = self._plan(user).requests_per_hour
        decision = await self.store.hit(f"api:{self.subject(address, user)}", limit, HOUR)
        if not decision.allowed:
            raise too_many(decision)
        return decision

    async def upload_started(self, address: str, user: Any) -> None:
        """Count one upload (presign or multipart init); 429 over ``uploads_per_hour``."""
        if not self.enabled:
            return
        limit = self._plan(user).uploads_per_hour
        decision = await self.store.hit(f"upload:{self.subject(address, user)}", limit, HOUR)
        if not decision.allowed:
            raise too_many(decision, "Upload limit exceeded")

    async def login_attempt(self, address: str, account: str) -> None:
        """Before checking a password: per-address attempts, and the account's failures."""
        if not self.enabled:
            return
        rl = self.settings.rate_limits
        decision = await self.store.hit(f"login-ip:{address}", rl.login_per_ip_per_hour, HOUR)
        if not decision.allowed:
            raise too_many(decision)
        # Keyed by what was typed, whether or not such an account exists: the answer
        # must not tell the two apart.
        await self._check_failures(login_fail_key(account))

    async def login_account(self, user_id: str) -> None:
        """Once the typed name resolved to an account: its failures, whichever of its
        names (email, username) were typed, so that each name does not get its own
        allowance."""
        if self.enabled:
            await self._check_failures(f"login-fail-account:{user_id}")

    async def _check_failures(self, key: str) -> None:
        limit = self.settings.rate_limits.login_failures_per_account
        failures = await self.store.hit(key, limit, HOUR, 0)
        if failures.remaining <= 0:
            raise too_many(failures)

    async def login_failed(self, account: str, user_id: str | None = None) -> None:
        """Record a wrong password for the typed ``account`` and the account it names."""
        if self.enabled:
            limit = self.settings.rate_limits.login_failures_per_account
            for key in login_fail_keys(account, user_id):
                await self.store.hit(key, limit, HOUR)

    async def login_succeeded(self, account: str, user_id: str | None = None) -> None:
        """A right password clears the failures of the typed name and of the account."""
        if self.enabled:
            for key in login_fail_keys(account, user_id):
                await self.store.reset(key)

    async def signup_attempt(self, address: str) -> None:
        """Count one signup from ``address``; 429 over the hourly limit."""
        if not self.enabled:
            return
        limit = self.settings.rate_limits.signup_per_ip_per_hour
        decision = await self.store.hit(f"signup-ip:{address}", limit, HOUR)
        if not decision.allowed:
            raise too_many(decision)

    async def report_filed(self, address: str, user: Any, reason: str) -> None:
        """Count one moderation report (per account, or per address when anonymous);
        429 over the hourly limit, and over the stricter one for ``csam`` reports (each
        can hide content at once)."""
        if not self.enabled:
            return
        rl = self.settings.rate_limits
        who = self.subject(address, user)
        limits = [("report", rl.reports_per_hour)]
        if reason == "csam":
            limits.append(("report-csam", rl.csam_reports_per_hour))
        for name, limit in limits:
            decision = await self.store.hit(f"{name}:{who}", limit, HOUR)
            if not decision.allowed:
                raise too_many(decision, "Report limit exceeded")


def login_fail_key(account: str) -> str:
    """The failure counter of a typed login name (account or not)."""
    return f"login-fail:{account.strip().lower()}"


def login_fail_keys(account: str, user_id: str | None) -> list[str]:
    """The typed name's counter and, when it named an account, the account's."""
    keys = [login_fail_key(account)]
    if user_id is not None:
        keys.append(f"login-fail-account:{user_id}")
    return keys


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
