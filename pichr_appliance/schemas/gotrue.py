"""``/auth/v1``: the GoTrue (Supabase Auth) bodies and answers that supabase-js v2 uses.

Field names and which of them are mandatory follow the client's own source
(``@supabase/auth-js``: ``GoTrueClient.js``, ``lib/fetch.js``, ``lib/types.d.ts``), the
version named in docs/supabase-js.md. Errors are the appliance's ``{error, code}``
plus the fields the client reads (``error_code``, ``msg``, ``message``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from .common import Body, Email, Out, Role, StrictStr, Time

API_VERSION = "2024-01-01"  # the X-Supabase-Api-Version this dialect answers in
WEAK_PASSWORD_REASONS = ("length", "characters", "pwned")
Metadata = dict[str, Any]


class GoTrueSignupBody(Body):
    """``POST /auth/v1/signup``: ``data`` becomes the user's metadata, and may name the
    ``username`` (else one is derived from the email, docs/supabase-js.md)."""

    email: Email
    password: StrictStr = Field(max_length=1024)
    data: Metadata | None = None


class TokenGrantBody(Body):
    """``POST /auth/v1/token``: ``email`` and ``password`` for ``grant_type=password``
    (read as ``/api/v1/auth/login`` reads them: ``email`` may be a username),
    ``refresh_token`` for ``grant_type=refresh_token``."""

    email: StrictStr | None = Field(None, max_length=254)
    password: StrictStr | None = Field(None, max_length=1024)
    refresh_token: StrictStr | None = Field(None, max_length=200)


class RefreshGrantBody(Body):
    """``POST /auth/v1/token?grant_type=refresh_token``."""

    refresh_token: StrictStr = Field(max_length=200)


class UserUpdateBody(Body):
    """``PUT /auth/v1/user``. A new ``email`` or ``password`` needs ``current_password``
    (GoTrue's GOTRUE_SECURITY_UPDATE_PASSWORD_REQUIRE_CURRENT_PASSWORD behaviour; there
    is no confirmation mail or reauthentication nonce here)."""

    email: StrictStr | None = Field(None, max_length=254)
    password: StrictStr | None = Field(None, max_length=1024)
    current_password: StrictStr | None = Field(None, max_length=1024)
    data: Metadata | None = None
    phone: StrictStr | None = Field(None, max_length=32, description="Not supported: 422.")
    nonce: StrictStr | None = Field(None, max_length=200, description="Not used.")


class AppMetadata(Out):
    """What the server says about the account (the client does not change it)."""

    provider: Literal["email"]
    providers: list[Literal["email"]]
    role: Role = Field(description="The appliance role: user, moderator or admin.")
    plan: str


class Identity(Out):
    """The account's one identity: its email and password."""

    identity_id: str
    id: str
    user_id: str
    identity_data: dict[str, Any]
    provider: Literal["email"]
    email: str
    last_sign_in_at: Time | None
    created_at: Time
    updated_at: Time


class GoTrueUser(Out):
    """GoTrue's User: ``id`` is the appliance's user id (``ownerId`` of files)."""

    id: str
    aud: Literal["authenticated"]
    role: Literal["authenticated"]
    email: str
    phone: Literal[""]
    email_confirmed_at: Time
    confirmed_at: Time
    last_sign_in_at: Time | None
    app_metadata: AppMetadata
    user_metadata: Metadata
    identities: list[Identity]
    created_at: Time
    updated_at: Time
    is_anonymous: Literal[False]


class TokenOut(Out):
    """A session as ``/signup`` and ``/token`` answer it (``lib/fetch.js`` needs
    ``access_token``, ``refresh_token`` and ``expires_in``; ``expires_at`` is the
    access token's own ``exp``)."""

    access_token: str
    token_type: Literal["bearer"]
    expires_in: int = Field(ge=1)
    expires_at: int = Field(description="Epoch seconds.")
    refresh_token: str
    user: GoTrueUser
    weak_password: None = None


class WeakPassword(Out):
    """Why a password was refused."""

    reasons: list[Literal["length", "characters", "pwned"]]


class GoTrueError(Out):
    """Every error under ``/auth/v1``: ``code`` and ``error_code`` are GoTrue's error
    code, ``msg`` and ``message`` the human message (as ``error``)."""

    error: str
    code: str
    error_code: str
    msg: str
    message: str
    details: Any = None
    weak_password: WeakPassword | None = None


class GoTrueRateLimited(GoTrueError):
    """A 429 (``over_request_rate_limit``), with the appliance's retry fields."""

    retryAfter: int = Field(description="When to retry, epoch milliseconds.")
    remaining: Literal[0]
