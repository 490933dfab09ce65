"""``/account``: the deletion body (the export is a ZIP stream, not a model)."""

from __future__ import annotations

from pydantic import Field

from .common import Body, StrictStr


class AccountDeleteRequest(Body):
    """``DELETE /account``: the password confirms it."""

    password: StrictStr = Field(min_length=1, max_length=1024)
