"""The GoTrue shapes of the appliance's accounts and sessions (``/auth/v1``).

- ``user_metadata`` is the metadata object kept with the account plus four keys that
  are the account's own fields: ``username``, ``first_name``, ``last_name`` and
  ``age_confirmed`` (``data`` naming them changes the account, not the stored object);
- ``app_metadata`` says ``provider: "email"`` and carries the appliance ``role`` and
  ``plan``; ``aud`` and ``role`` are GoTrue's ``authenticated``;
- ``email_confirmed_at`` and ``confirmed_at`` are the signup time: accounts work at once
  and no confirmation mail is sent (GoTrue's autoconfirm), while ``identity_data``
  says ``email_verified: false`` because nobody checked the address;
- a session's ``expires_at`` is the access token's own ``exp``.
"""

from __future__ import annotations

import uuid
from typing import Any

from sanic import Request

from ..errors import bad_request
from ..models import User
from ..schemas.gotrue import AppMetadata, GoTrueUser, Identity, TokenOut
from ..services import sessions
from ..timeutil import iso

# data key -> the profile field it changes (the names of PATCH /api/v1/auth/me).
PROFILE_KEYS = {
    "username": "username",
    "first_name": "firstName",
    "last_name": "lastName",
    "age_confirmed": "ageConfirmed",
}
# identity_id: stable per account, in GoTrue's UUID form.
IDENTITY_NAMESPACE = uuid.UUID("7d3c6b0e-5a41-4f0e-9a57-7c1a8e2f4b10")


def profile_changes(data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``data`` split into what stays user metadata and the profile fields it names.

    ``null`` for a name clears it; for ``username`` and ``age_confirmed`` it is
    ignored. 400 ``validation_failed`` for a value of the wrong type."""
    metadata = {k: v for k, v in data.items() if k not in PROFILE_KEYS}
    profile: dict[str, Any] = {}
    for key, field in PROFILE_KEYS.items():
        if key not in data:
            continue
        value = data[key]
        if value is None and field in ("firstName", "lastName"):
            value = ""
        if value is None:
            continue
        wanted = bool if field == "ageConfirmed" else str
        if not isinstance(value, wanted):
            kind = "a boolean" if wanted is bool else "a string"
            raise bad_request(f"data.{key}: must be {kind}", "validation_error")
        profile[field] = value
    return metadata, profile


async def user_out(user: User) -> GoTrueUser:
    """GoTrue's User object of ``user``."""
    last = iso(await sessions.last_sign_in(user.id))
    created, updated = iso(user.created_at), iso(user.updated_at)
    own = {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "age_confirmed": user.age_confirmed,
    }
    identity = Identity(
        identity_id=str(uuid.uuid5(IDENTITY_NAMESPACE, user.id)),
        id=user.id,
        user_id=user.id,
        identity_data={
            "sub": user.id,
            "email": user.email,
            "email_verified": False,
            "phone_verified": False,
        },
        provider="email",
        email=user.email,
        last_sign_in_at=last,
        created_at=created,
        updated_at=updated,
    )
    return GoTrueUser(
        id=user.id,
        aud="authenticated",
        role="authenticated",
        email=user.email,
        phone="",
        email_confirmed_at=created,
        confirmed_at=created,
        last_sign_in_at=last,
        app_metadata=AppMetadata(
            provider="email", providers=["email"], role=user.role, plan=user.plan
        ),
        user_metadata={**(user.user_metadata or {}), **own},
        identities=[identity],
        created_at=created,
        updated_at=updated,
        is_anonymous=False,
    )


async def token_out(request: Request, session: dict[str, Any], user: User) -> dict[str, Any]:
    """The token answer (as JSON) of a session the services started or refreshed."""
    claims = request.app.ctx.runtime.tokens.decode_access(session["access_token"])
    answer = TokenOut(
        access_token=session["access_token"],
        token_type="bearer",
        expires_in=session["expires_in"],
        expires_at=claims.expires_at,
        refresh_token=session["refresh_token"],
        user=await user_out(user),
        weak_password=None,
    )
    return answer.dump()
