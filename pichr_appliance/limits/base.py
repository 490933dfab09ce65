"""The contract every rate-limit store fulfils (the core's SQLite one, Redis, ...)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

# A window is cut into this many buckets. A hit is counted in the bucket of its time,
# and a decision adds up the buckets that overlap the last window, including the one
# partly older than the window: so no span of one window ever holds more than
# ``limit`` hits (a fixed window allows twice the limit across its edge), at the price
# of freeing capacity up to one bucket (a minute for an hourly limit) late.
BUCKETS = 60


@dataclass(frozen=True)
class Decision:
    """The outcome of one :meth:`RateLimitStore.hit`."""

    allowed: bool
    limit: int
    remaining: int
    reset: int  # epoch seconds when capacity frees up again

    def retry_after(self, now: float) -> int:
        """Seconds to wait before the next attempt can succeed (at least 1)."""
        return max(1, math.ceil(self.reset - now))

    def headers(self) -> dict[str, str]:
        """The ``X-RateLimit-*`` headers describing this decision."""
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def bucket_width(window: int) -> int:
    """Seconds per bucket for a window (at least one second)."""
    return max(1, window // BUCKETS)


def decide(
    counts: dict[int, int], now: float, limit: int, window: int, cost: int
) -> tuple[bool, int, int]:
    """Shared arithmetic: (allowed, used after this hit, reset) from the live buckets.

    ``counts`` maps bucket numbers to hits and holds only buckets still in the window.
    """
    width = bucket_width(window)
    current = int(now // width)
    used = sum(counts.values())
    allowed = used + cost <= limit
    if allowed:
        used += cost
    live = [b for b, n in counts.items() if n] + ([current] if allowed and cost else [])
    oldest = min(live) if live else current
    reset = (oldest + window // width + 1) * width
    return allowed, used, reset


def first_live_bucket(now: float, window: int) -> int:
    """The oldest bucket that still counts at ``now``."""
    width = bucket_width(window)
    return int(now // width) - window // width


class RateLimitStore:
    """Counts hits per key in a sliding window.

    Subclasses set ``name`` (chosen by ``rate_limits.store``) and implement
    :meth:`hit`. Implementations must be exact across every process that shares the
    store: the core's ``local`` store shares a SQLite file between the workers of one
    machine; a Redis store shares counts between machines.
    """

    name: ClassVar[str] = ""

    def __init__(self, settings: Any) -> None:
        self.settings = settings

    async def startup(self) -> None:
        """Open connections (called once per process before the first hit)."""

    async def shutdown(self) -> None:
        """Close connections."""

    async def hit(self, key: str, limit: int, window: int, cost: int = 1) -> Decision:
        """Count ``cost`` hits for ``key`` if they fit under ``limit`` per ``window`` s.

        ``cost=0`` only looks. Refused hits are not counted.
        """
        raise NotImplementedError

    async def reset(self, key: str) -> None:
        """Forget every hit of ``key`` (e.g. after a successful login)."""
        raise NotImplementedError
