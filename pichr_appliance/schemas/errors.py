"""Error answers: every non-2xx answer is ``{error, code, details?}``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .common import Out


class ErrorOut(Out):
    """The shared error body."""

    error: str = Field(description="A human message.")
    code: str = Field(description="Stable snake_case code.")
    details: Any = Field(None, description="Where useful: fields, ids, limits.")


class RateLimited(ErrorOut):
    """A 429: when to retry (epoch milliseconds)."""

    retryAfter: int = Field(description="When to retry, epoch milliseconds.")
    remaining: Literal[0]
