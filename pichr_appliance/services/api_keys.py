"""API keys: ``pk_`` + 32 base58 characters, shown once, stored as sha256."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..errors import bad_request, not_found
from ..models import ApiKey, User, is_id
from ..security import make_api_key, new_id, sha256_hex
from ..timeutil import iso, utcnow

PERMISSIONS = ("upload", "read", "write", "delete")
MAX_KEYS_PER_USER = 100


def key_json(key: ApiKey, secret: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": key.id,
        "name": key.name,
    }
    if secret is not None:
        out["key"] = secret
    out.update(
        prefix=key.prefix,
        permissions=list(key.permissions),
        createdAt=iso(key.created_at),
        expiresAt=iso(key.expires_at),
        lastUsedAt=iso(key.last_used_at),
    )
    return out


async def create_key(
    user: User, name: str, permissions: list[str], expires_at: datetime | None
) -> tuple[ApiKey, str]:
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise bad_request("name: 1-100 characters", "invalid_name", {"field": "name"})
    if not permissions or any(p not in PERMISSIONS for p in permissions):
        raise bad_request(
            f"permissions: a non-empty list of {', '.join(PERMISSIONS)}",
            "invalid_permissions",
            {"field": "permissions"},
        )
    if expires_at is not None and expires_at <= utcnow():
        raise bad_request(
            "expiresAt: must be in the future", "invalid_expiry", {"field": "expiresAt"}
        )
    if await ApiKey.filter(user_id=user.id, revoked_at=None).count() >= MAX_KEYS_PER_USER:
        raise bad_request(f"at most {MAX_KEYS_PER_USER} API keys per account", "too_many_keys")
    secret, prefix, digest = make_api_key()
    key = await ApiKey.create(
        id=new_id("key"),
        user=user,
        name=name,
        prefix=prefix,
        key_hash=digest,
        permissions=sorted(set(permissions), key=PERMISSIONS.index),
        expires_at=expires_at,
    )
    return key, secret


async def list_keys(user: User) -> list[ApiKey]:
    return await ApiKey.filter(user_id=user.id, revoked_at=None).order_by("created_at")


async def revoke_key(user: User, key_id: str) -> None:
    if not is_id(key_id):
        raise not_found("API key")
    updated = await ApiKey.filter(id=key_id, user_id=user.id, revoked_at=None).update(
        revoked_at=utcnow()
    )
    if not updated:
        raise not_found("API key")


async def resolve_key(secret: str) -> ApiKey | None:
    """The live key for a presented secret (lookup by its sha256), else None."""
    key = await ApiKey.get_or_none(key_hash=sha256_hex(secret)).select_related("user")
    if key is None or key.revoked_at is not None:
        return None
    if key.expires_at is not None and key.expires_at <= utcnow():
        return None
    return key
