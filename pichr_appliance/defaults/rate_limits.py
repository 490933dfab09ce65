"""The built-in rate-limit stores (``rate_limits.store = "local"`` or ``"memory"``)."""

from __future__ import annotations

from typing import Any

from .. import hookimpl
from ..limits.local import LocalRateLimitStore
from ..limits.memory import MemoryRateLimitStore


@hookimpl
def register_rate_limit_stores(settings: Any) -> list[type]:
    """The SQLite-file store shared by the workers of one machine, and the per-process
    memory store (exact only with one worker)."""
    return [LocalRateLimitStore, MemoryRateLimitStore]
