"""Accounts: creation, credentials, profile changes, roles, plans, disabling."""

from __future__ import annotations

import json
import re
import secrets
from typing import TYPE_CHECKING, Any

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from ..errors import ApiError, conflict, not_found
from ..models import ROLES, ApiKey, Session, User, is_id
from ..schemas import common
from ..schemas.auth import UsageOut, UserOut, UserWithUsageOut
from ..schemas.common import (
    MAX_PASSWORD,
    MIN_PASSWORD,
    NAME_MAX,
    USER_METADATA_MAX_BYTES,
    USERNAME_PATTERN,
    check_value,
)
from ..security import Passwords, new_id
from ..timeutil import iso, utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime


def _name_value(value: str) -> str:
    if not isinstance(value, str) or len(value) > NAME_MAX:
        raise ValueError(f"at most {NAME_MAX} characters")
    return value


USERNAME_RE = re.compile(USERNAME_PATTERN)
EMAIL_RE = common.EMAIL_RE


def normalize_email(email: str) -> str:
    """Trimmed and lower-cased; 400 when it does not look like an address."""
    return check_value("email", common.email_value, email)


def check_username(username: str) -> str:
    """3-32 letters, digits and underscores (the rule of ``schemas.common``)."""
    return check_value("username", common.username_value, username)


def check_password(password: str, field: str = "password") -> str:
    """A password within the limits of ``schemas.common``."""

    def rule(value: str) -> str:
        if not isinstance(value, str) or not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
            raise ValueError(f"{MIN_PASSWORD} to {MAX_PASSWORD} characters")
        return value

    return check_value(field, rule, password)


def check_role(role: str) -> str:
    """One of the roles."""

    def rule(value: str) -> str:
        if value not in ROLES:
            raise ValueError(f"must be one of {', '.join(ROLES)}")
        return value

    return check_value("role", rule, role)


def check_plan(settings: Any, plan: str) -> str:
    """One of the configured plans (never ``anonymous``)."""

    def rule(value: str) -> str:
        if value not in settings.plans or value == "anonymous":
            names = ", ".join(p for p in settings.plans if p != "anonymous")
            raise ValueError(f"must be one of {names}")
        return value

    return check_value("plan", rule, plan)


def user_out(user: User, *, usage: bool = False, settings: Any = None) -> UserOut:
    """The API's User (with ``usage``: UserWithUsageOut)."""
    fields: dict[str, Any] = {
        "id": user.id,
        "email": user.email,
        "username": user.username,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "role": user.role,
        "plan": user.plan,
        "ageConfirmed": user.age_confirmed,
        "disabled": user.disabled,
        "createdAt": iso(user.created_at),
    }
    if not usage:
        return UserOut(**fields)
    quota = settings.plan(user.plan).quota_bytes if settings else None
    fields["usage"] = UsageOut(bytes=user.usage_bytes, files=user.usage_files, quotaBytes=quota)
    return UserWithUsageOut(**fields)


def user_json(user: User, *, usage: bool = False, settings: Any = None) -> dict[str, Any]:
    """The API's User object as JSON (for the CLI, the export and plugins)."""
    return user_out(user, usage=usage, settings=settings).dump()


async def create_user(
    settings: Any,
    passwords: Passwords,
    *,
    email: str,
    username: str,
    password: str | None,
    first_name: str = "",
    last_name: str = "",
    role: str = "user",
    plan: str | None = None,
    age_confirmed: bool = False,
    external_id: str | None = None,
    user_metadata: dict[str, Any] | None = None,
) -> User:
    """Create an account; 400 on invalid fields, 409 when email or username is taken.

    ``external_id``: the identity a sign-in plugin vouches for (``"<source>:<id>"``),
    the one link such a plugin may follow to this account."""
    email = normalize_email(email)
    check_username(username)
    if password is not None:
        check_password(password)
    check_role(role)
    plan = check_plan(settings, plan or settings.auth.default_plan)
    for field, value in (("firstName", first_name), ("lastName", last_name)):
        check_value(field, _name_value, value)
    # Hashed before the uniqueness checks: a taken email or username then costs as
    # long as a new account, and the time of a 409 does not tell which one it was.
    password_hash = await passwords.hash(password) if password is not None else None
    if await User.filter(email=email).exists():
        raise conflict("email: an account with this email already exists", "email_taken")
    if await User.filter(username_key=username.lower()).exists():
        raise conflict("username: this username is taken", "username_taken")
    try:
        return await User.create(
            id=new_id("usr"),
            email=email,
            username=username,
            username_key=username.lower(),
            first_name=first_name,
            last_name=last_name,
            password_hash=password_hash,
            role=role,
            plan=plan,
            age_confirmed=bool(age_confirmed),
            external_id=external_id,
            user_metadata=check_metadata(user_metadata or {}) or None,
        )
    except IntegrityError:
        # Lost a race with a concurrent signup for the same email or username.
        raise conflict("email or username already taken", "account_exists") from None


async def register(rt: Runtime, **fields: Any) -> User:
    """Create an account (the fields of :func:`create_user`) and fire ``user_created``.

    The one way to open an account that plugins hear about: signup, ``user create``
    and the auth-proxy plugin all come through here, so the event fires exactly once.
    """
    user = await create_user(rt.settings, rt.passwords, **fields)
    await rt.fire("user_created", user=user)
    return user


async def find_login(identifier: str) -> User | None:
    """The account for an email or a username (case-insensitive), or None."""
    ident = (identifier or "").strip().lower()
    if not ident:
        return None
    if "@" in ident:
        return await User.get_or_none(email=ident) if is_id(ident, 254) else None
    return await User.get_or_none(username_key=ident) if is_id(ident, 32) else None


USERNAME_SUFFIX_TRIES = 8


def username_from_email(email: str) -> str:
    """A username for an account opened by email alone (``/auth/v1/signup``): the part
    before ``@`` with every run of other characters than ``[A-Za-z0-9_]`` made one
    ``_``, trimmed of ``_``, cut to 24 characters (room for a suffix); ``user`` when
    fewer than 3 are left (``jo`` becomes ``jo_user``). Addresses are stored lower-cased,
    so ``Ann.Lee+pics@example.com`` gives ``ann_lee_pics``."""
    local = (email or "").split("@", 1)[0]
    base = re.sub(r"[^A-Za-z0-9_]+", "_", local).strip("_")[:24].strip("_")
    if len(base) < 3:
        base = f"{base}_user" if base else "user"
    return base


async def unused_username(base: str) -> str:
    """``base`` when nobody has it (case-insensitively), else ``base`` plus ``_`` and
    four random hex digits, a new draw until one is free."""
    check_username(base)
    candidate = base
    for _ in range(USERNAME_SUFFIX_TRIES):
        if not await User.filter(username_key=candidate.lower()).exists():
            return candidate
        candidate = f"{base}_{secrets.token_hex(2)}"
    return f"{base}_{secrets.token_hex(4)}"  # 8 draws taken: a longer one


def check_metadata(value: Any) -> dict[str, Any]:
    """A JSON object of at most ``USER_METADATA_MAX_BYTES`` encoded (user metadata)."""

    def rule(data: Any) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise ValueError("must be a JSON object")
        if len(json.dumps(data, separators=(",", ":")).encode()) > USER_METADATA_MAX_BYTES:
            raise ValueError(f"at most {USER_METADATA_MAX_BYTES} bytes as JSON")
        return data

    return check_value("data", rule, value)


def merged_metadata(current: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """``current`` with ``changes`` applied key by key, a ``null`` removing its key (how
    GoTrue updates user_metadata)."""
    out = dict(current or {})
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return check_metadata(out)


async def get_user(ref: str) -> User:
    """A user by id, email or username (for the CLI and admin); 404 when absent."""
    user = (await User.get_or_none(id=ref) if is_id(ref) else None) or await find_login(ref)
    if user is None:
        raise not_found("User")
    return user


async def revoke_credentials(user: User, reason: str) -> None:
    """End every session and API key of ``user`` at once."""
    now = utcnow()
    await Session.filter(user_id=user.id, revoked_at=None).update(
        revoked_at=now, revoked_reason=reason
    )
    await ApiKey.filter(user_id=user.id, revoked_at=None).update(revoked_at=now)


async def set_disabled(user: User, disabled: bool, rt: Runtime | None = None) -> User:
    """Disable (revoking sessions and keys) or enable an account.

    With ``rt``, every file of the account is invalidated (``file_invalidated``): its
    content is hidden or shown again, which caches and CDN plugins must learn."""
    user.disabled = disabled
    await user.save(update_fields=["disabled", "updated_at"])
    if disabled:
        await revoke_credentials(user, "disabled")
    if rt is not None:
        from ..models import File
        from . import files as files_service

        for file_id in await File.filter(owner_id=user.id).values_list("id", flat=True):
            files_service.forget(rt, file_id)
    return user


async def set_role(user: User, role: str) -> User:
    user.role = check_role(role)
    await user.save(update_fields=["role", "updated_at"])
    return user


async def set_plan(settings: Any, user: User, plan: str) -> User:
    user.plan = check_plan(settings, plan)
    await user.save(update_fields=["plan", "updated_at"])
    return user


async def set_password(passwords: Passwords, user: User, password: str) -> User:
    """Change the password and end every session (a reset must lock out old logins)."""
    check_password(password)
    user.password_hash = await passwords.hash(password)
    await user.save(update_fields=["password_hash", "updated_at"])
    await Session.filter(user_id=user.id, revoked_at=None).update(
        revoked_at=utcnow(), revoked_reason="password_changed"
    )
    return user


async def update_profile(
    passwords: Passwords, user: User, changes: dict[str, Any], current_session: str | None
) -> User:
    """Apply profile changes (``PATCH /auth/me``, ``PUT /auth/v1/user``): ``firstName``,
    ``lastName``, ``ageConfirmed``, ``username``, ``metadata`` (merged, see
    :func:`merged_metadata`), and ``email`` or ``password``, which need the current
    password in ``currentPassword``. A new password ends the other sessions."""
    fields = _apply_names(user, changes)
    fields += await _apply_username(user, changes)
    if changes.get("metadata") is not None:
        user.user_metadata = merged_metadata(user.user_metadata, changes["metadata"]) or None
        fields.append("user_metadata")
    new_email = await _new_email(user, changes)
    password = changes.get("password")
    new_password = check_password(password) if password is not None else None
    if new_email is not None or new_password is not None:
        await _check_current_password(passwords, user, changes.get("currentPassword"))
    if new_email is not None:
        user.email = new_email
        fields.append("email")
    if new_password is not None:
        user.password_hash = await passwords.hash(new_password)
        fields.append("password_hash")
    if not fields:
        return user
    async with in_transaction("default"):
        try:
            await user.save(update_fields=[*fields, "updated_at"])
        except IntegrityError:  # lost a race for the name or the address
            if "email" in fields:
                raise conflict("email or username already taken", "account_exists") from None
            raise conflict("username: this username is taken", "username_taken") from None
        if "password_hash" in fields:
            # Other sessions end; the one that made the change stays signed in.
            q = Session.filter(user_id=user.id, revoked_at=None)
            if current_session:
                q = q.exclude(id=current_session)
            await q.update(revoked_at=utcnow(), revoked_reason="password_changed")
    return user


def _apply_names(user: User, changes: dict[str, Any]) -> list[str]:
    fields = []
    for key, attribute in (("firstName", "first_name"), ("lastName", "last_name")):
        if key in changes:
            setattr(user, attribute, check_value(key, _name_value, changes[key]))
            fields.append(attribute)
    if "ageConfirmed" in changes:
        user.age_confirmed = bool(changes["ageConfirmed"])
        fields.append("age_confirmed")
    return fields


async def _apply_username(user: User, changes: dict[str, Any]) -> list[str]:
    if "username" not in changes or changes["username"] == user.username:
        return []
    username = check_username(changes["username"])
    taken = await User.filter(username_key=username.lower()).exclude(id=user.id).exists()
    if taken:
        raise conflict("username: this username is taken", "username_taken")
    user.username, user.username_key = username, username.lower()
    return ["username", "username_key"]


async def _new_email(user: User, changes: dict[str, Any]) -> str | None:
    """The normalized new address when ``changes`` changes it, else None; 409 if taken."""
    if changes.get("email") is None:
        return None
    email = normalize_email(changes["email"])
    if email == user.email:
        return None
    if await User.filter(email=email).exclude(id=user.id).exists():
        raise conflict("email: an account with this email already exists", "email_taken")
    return email


async def _check_current_password(passwords: Passwords, user: User, current: Any) -> None:
    if not current or not await passwords.verify(user.password_hash, current):
        raise ApiError(
            403, "wrong_password", "currentPassword: does not match", {"field": "currentPassword"}
        )


async def delete_account(rt: Runtime, user: User, operator: Any = None) -> None:
    """Delete an account and everything it owns: files (bytes too), albums, sessions, keys,
    unfinished uploads; the quota goes with it.

    Credentials go first so that nothing can act for the account meanwhile. Each file's
    bytes go before its record, one file at a time, so a failure halfway leaves only
    whole files behind, and running the deletion again (signing in again, or
    ``user delete``) completes it. Reports the user made stay, without the reporter.
    """
    from ..models import Album, File, Upload, UploadPart
    from . import audit
    from .files import delete_file

    await revoke_credentials(user, "deleted")
    for part in await UploadPart.filter(upload__owner_id=user.id):
        await rt.storage.delete(part.storage_key)
        await UploadPart.filter(id=part.id).delete()
    for file in await File.filter(owner_id=user.id):
        await delete_file(rt, file, actor=user, bytes_first=True)
    await Upload.filter(owner_id=user.id).delete()
    await Album.filter(owner_id=user.id).delete()
    await user.delete()
    await audit.record(
        operator or audit.Operator.of_user(user),
        "delete_account",
        "user",
        user.id,
    )


async def list_users(
    *, q: str | None = None, limit: int = 20, offset: int = 0
) -> tuple[list[User], int]:
    query = User.all()
    if q:
        from tortoise.expressions import Q

        query = query.filter(Q(email__icontains=q) | Q(username_key__icontains=q.lower()))
    total = await query.count()
    users = await query.order_by("created_at", "id").offset(offset).limit(limit)
    return users, total
