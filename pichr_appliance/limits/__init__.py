"""Rate-limit stores: where the counts behind ``X-RateLimit-*`` live."""

from .base import Decision, RateLimitStore
from .memory import MemoryRateLimitStore

__all__ = ["Decision", "MemoryRateLimitStore", "RateLimitStore"]
