"""Answers of the browser's cookie session (``/api/v1/auth/web``)."""

from __future__ import annotations

from pydantic import Field

from .auth import UserOut
from .common import Out


class WebSessionOut(Out):
    """A browser session: the user and an access token for page memory. The refresh
    token is not in it: it travels only in the ``HttpOnly`` cookie."""

    user: UserOut
    accessToken: str
    expiresAt: str = Field(json_schema_extra={"format": "date-time"})
