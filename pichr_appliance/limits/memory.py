"""A per-process store: exact for one worker, and the fallback when a shared store fails."""

from __future__ import annotations

import time
from typing import Any

from .base import Decision, RateLimitStore, bucket_width, decide, first_live_bucket


class MemoryRateLimitStore(RateLimitStore):
    """Counts in this process's memory (each worker of ``--workers N`` counts alone)."""

    name = "memory"

    def __init__(self, settings: Any = None) -> None:
        super().__init__(settings)
        self._keys: dict[str, dict[int, int]] = {}
        self._seen: dict[str, float] = {}
        self._hits = 0

    async def hit(self, key: str, limit: int, window: int, cost: int = 1) -> Decision:
        """Count and decide (see :class:`RateLimitStore`)."""
        now = time.time()
        first = first_live_bucket(now, window)
        counts = {b: n for b, n in self._keys.get(key, {}).items() if b >= first}
        allowed, used, reset = decide(counts, now, limit, window, cost)
        if allowed and cost:
            current = int(now // bucket_width(window))
            counts[current] = counts.get(current, 0) + cost
        if counts:
            self._keys[key] = counts
            self._seen[key] = now
        else:
            self._keys.pop(key, None)
        self._hits += 1
        if self._hits % 10_000 == 0:
            self._prune(now)
        return Decision(allowed, limit, max(0, limit - used), reset)

    def _prune(self, now: float) -> None:
        # Callers that went away: drop keys without a hit for a day (windows are shorter).
        for key in [k for k, t in self._seen.items() if t < now - 86_400]:
            self._keys.pop(key, None)
            del self._seen[key]

    async def reset(self, key: str) -> None:
        """Forget ``key``."""
        self._keys.pop(key, None)
        self._seen.pop(key, None)
