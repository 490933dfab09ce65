"""``/health`` and discovery answers."""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict

from .common import Out

State = Literal["ok", "unavailable"]


class Health(Out):
    """Liveness; on 503 also ``error`` and ``code`` naming the failing part.

    ``disk``: free space on this machine's data (and local storage) disk against
    ``storage.min_free_bytes``: ``low`` under twice the reserve, ``full`` under it
    (uploads answer 507; the health answer is 503)."""

    status: State
    version: str
    database: State
    storage: State
    disk: Literal["ok", "low", "full"]
    error: str | None = None
    code: Literal["service_unavailable"] | None = None

    def dump(self) -> dict:
        """Without ``error``/``code`` while everything is fine."""
        return self.model_dump(mode="json", exclude_none=True)


class OpenApiDocument(Out):
    """The OpenAPI 3.1 document itself (described by its own specification)."""

    model_config = ConfigDict(extra="allow")
