"""Which account a proxy identity may sign in as: only one the plugin created or an
operator linked (``User.external_id == "auth_proxy:<name>"``), never one that merely
has the same username (that would let a local signup pre-hijack the proxy's user)."""

from __future__ import annotations

from pichr_appliance.errors import ApiError
from pichr_appliance.models import User
from pichr_appliance.services import accounts, audit

SOURCE = "auth_proxy"


def external_id(name: str) -> str:
    """The identity a proxy user name stands for (case-insensitive, like usernames)."""
    return f"{SOURCE}:{name.strip().lower()}"


def adoptable(user: User, email: str) -> bool:
    """Whether an unlinked account may be linked on first sight: one that only the
    proxy can sign in to (no password) and whose email is the proxy's. Accounts that an
    older version of the plugin created look like that."""
    return user.external_id is None and user.password_hash is None and user.email == email


async def link(
    ref: str, remote_user: str | None = None, operator: audit.Operator | None = None
) -> User:
    """Let the proxy's ``remote_user`` (default: the account's username) sign in as the
    account ``ref`` (id, email or username); 409 when another account has that name."""
    user = await accounts.get_user(ref)
    name = remote_user or user.username
    if not accounts.USERNAME_RE.fullmatch(name):
        raise ApiError(400, "invalid_remote_user", f"{name!r} is not a valid proxy user name")
    ident = external_id(name)
    other = await User.get_or_none(external_id=ident)
    if other is not None and other.id != user.id:
        raise ApiError(409, "account_conflict", f"{ident} is already linked to {other.username}")
    user.external_id = ident
    await user.save(update_fields=["external_id", "updated_at"])
    await audit.record(
        operator or audit.Operator(label="auth-proxy", role="admin"),
        "link_user", "user", user.id, data={"externalId": ident},
    )  # fmt: skip
    return user


async def unlink(ref: str, operator: audit.Operator | None = None) -> User:
    """Stop the proxy from signing in as ``ref``."""
    user = await accounts.get_user(ref)
    old, user.external_id = user.external_id, None
    await user.save(update_fields=["external_id", "updated_at"])
    await audit.record(
        operator or audit.Operator(label="auth-proxy", role="admin"),
        "unlink_user", "user", user.id, data={"externalId": old},
    )  # fmt: skip
    return user
