"""``/api-keys``: the create body and the key records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import Field, field_validator

from ..timeutil import utcnow
from .common import API_KEY_PATTERN, NAME_MAX, Body, Id, Out, StrictStr, Time

PERMISSIONS = ("upload", "read", "write", "delete")
Permission = Literal["upload", "read", "write", "delete"]


class KeyBody(Body):
    """``POST /api-keys``: a name, at least one permission, an optional future expiry."""

    name: StrictStr = Field(max_length=NAME_MAX, pattern=r"\S")
    permissions: list[Permission] = Field(min_length=1, max_length=10)
    expiresAt: datetime | None = None

    @field_validator("name")
    @classmethod
    def _trimmed(cls, value: str) -> str:
        return value.strip()

    @field_validator("expiresAt")
    @classmethod
    def _future(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        if value <= utcnow():
            raise ValueError("must be in the future")
        return value


class ApiKeyOut(Out):
    """A key record, never the secret."""

    id: Id("key")
    name: str
    prefix: str
    permissions: list[Permission]
    createdAt: Time
    expiresAt: Time | None
    lastUsedAt: Time | None


class ApiKeyCreated(Out):
    """The record plus its secret ``key``, shown this once."""

    id: Id("key")
    name: str
    key: str = Field(pattern=API_KEY_PATTERN)
    prefix: str
    permissions: list[Permission]
    createdAt: Time
    expiresAt: Time | None
    lastUsedAt: Time | None


class ApiKeyList(Out):
    """``GET /api-keys``."""

    apiKeys: list[ApiKeyOut]
