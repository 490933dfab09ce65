"""Built-in behaviour, written as plugins of our own hooks (as a third party would)."""

from __future__ import annotations

from typing import Any

from . import hookimpl
from .limits.local import LocalRateLimitStore
from .limits.memory import MemoryRateLimitStore
from .storage.local import LocalStorage


@hookimpl
def register_storage_backends(settings: Any) -> list[type]:
    """The local-disk backend: the embedded default."""
    return [LocalStorage]


@hookimpl
def register_rate_limit_stores(settings: Any) -> list[type]:
    """The SQLite-file store shared by the workers of one machine, and the per-process
    memory store (exact only with one worker)."""
    return [LocalRateLimitStore, MemoryRateLimitStore]
