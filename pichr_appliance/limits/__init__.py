"""Rate-limit stores: where the counts behind ``X-RateLimit-*`` live."""

from .base import Decision, RateLimitStore

__all__ = ["Decision", "RateLimitStore"]
