"""``/auth``: signup, login, refresh and profile bodies; User, Session and their answers."""

from __future__ import annotations

from pydantic import Field

from .common import (
    USERNAME_PATTERN,
    Body,
    Count,
    Email,
    Id,
    Name,
    Out,
    Password,
    Role,
    StrictBool,
    StrictStr,
    Time,
    Username,
)


class SignupBody(Body):
    """``POST /auth/signup``."""

    email: Email
    password: Password
    username: Username
    firstName: Name = ""
    lastName: Name = ""
    ageConfirmed: StrictBool = False


class LoginBody(Body):
    """``POST /auth/login``: ``email`` may also be a username."""

    email: StrictStr = Field(max_length=254)
    password: StrictStr = Field(max_length=1024)


class RefreshBody(Body):
    """``POST /auth/refresh``."""

    refresh_token: StrictStr = Field(max_length=200)


class ProfileBody(Body):
    """``PATCH /auth/me``: a new ``password`` needs ``currentPassword``."""

    firstName: Name | None = None
    lastName: Name | None = None
    # The pattern also at the top: documented next to the null alternative.
    username: Username | None = Field(None, json_schema_extra={"pattern": USERNAME_PATTERN})
    ageConfirmed: StrictBool | None = None
    password: Password | None = Field(None, json_schema_extra={"minLength": 8})
    currentPassword: StrictStr | None = Field(None, max_length=1024)


class UserOut(Out):
    """The API's User."""

    id: Id("user")
    email: str = Field(json_schema_extra={"format": "email"})
    username: str
    firstName: str
    lastName: str
    role: Role
    plan: str
    ageConfirmed: bool
    disabled: bool
    createdAt: Time


class UsageOut(Out):
    """What an account stores, against its plan's quota (null: unlimited)."""

    bytes: Count
    files: Count
    quotaBytes: Count | None


class UserWithUsageOut(UserOut):
    """A User plus ``usage`` (``/auth/me``, admin listings)."""

    usage: UsageOut


class SessionOut(Out):
    """A token pair; snake_case as Pichr has it."""

    access_token: str
    refresh_token: str
    expires_in: int = Field(ge=1)
    token_type: str = Field(json_schema_extra={"const": "bearer"}, pattern="^bearer$")


class AuthResult(Out):
    """Signup and login: the user and a new session."""

    user: UserOut
    session: SessionOut


class SessionResult(Out):
    """Refresh: the new token pair."""

    session: SessionOut


class UserResult(Out):
    """``{user}`` with usage."""

    user: UserWithUsageOut
