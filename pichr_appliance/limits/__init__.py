"""Rate-limit stores: where the counts behind ``X-RateLimit-*`` live.

``base`` is the contract (:class:`RateLimitStore`, :class:`Decision`), ``contract`` the
test suite every store runs, ``local`` and ``memory`` the built-in stores (registered
by ``pichr_appliance.defaults.rate_limits``).
"""

from .base import Decision, RateLimitStore
from .memory import MemoryRateLimitStore

__all__ = ["Decision", "MemoryRateLimitStore", "RateLimitStore"]
