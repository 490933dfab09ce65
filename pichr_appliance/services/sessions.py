"""Sessions: access JWTs bound to a session row, single-use rotating refresh tokens."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from tortoise.transactions import in_transaction

from ..db import from_row, placeholders, read_connection, select_list
from ..errors import ApiError, unauthorized
from ..models import RefreshToken, Session, User
from ..security import Tokens, new_id, new_refresh_token, sha256_hex
from ..timeutil import utcnow


def session_json(tokens: Tokens, access: str, refresh: str) -> dict[str, Any]:
    return {
        "access_token": access,
        "refresh_token": refresh,
        "expires_in": tokens.access_ttl,
        "token_type": "bearer",
    }


async def _issue_refresh(session: Session, ttl: int) -> str:
    token, digest = new_refresh_token()
    await RefreshToken.create(
        token_hash=digest, session=session, expires_at=utcnow() + timedelta(seconds=ttl)
    )
    return token


async def start_session(settings: Any, tokens: Tokens, user: User, user_agent: str = "") -> dict:
    """A new session for ``user``; returns the API's Session object."""
    ttl = settings.auth.refresh_token_ttl
    session = await Session.create(
        id=new_id("ses"),
        user=user,
        expires_at=utcnow() + timedelta(seconds=ttl),
        user_agent=(user_agent or "")[:255],
    )
    refresh = await _issue_refresh(session, ttl)
    return session_json(tokens, tokens.access_token(user.id, session.id), refresh)


async def refresh_session(settings: Any, tokens: Tokens, refresh_token: str) -> dict:
    """Exchange a refresh token for a new pair. A reused token revokes its session."""
    pair, _ = await refresh_session_of_user(settings, tokens, refresh_token)
    return pair


async def refresh_session_of_user(
    settings: Any, tokens: Tokens, refresh_token: str
) -> tuple[dict, User]:
    """:func:`refresh_session`, also returning the session's account (``/auth/v1``
    answers with the user next to the new pair)."""
    if not isinstance(refresh_token, str) or not refresh_token or len(refresh_token) > 200:
        raise unauthorized("Invalid refresh token", "invalid_refresh_token")
    digest = sha256_hex(refresh_token)
    async with in_transaction("default"):
        row = await RefreshToken.get_or_none(token_hash=digest).select_related("session")
        if row is None:
            raise unauthorized("Invalid refresh token", "invalid_refresh_token")
        session = row.session
        now = utcnow()
        if session.revoked_at is not None or session.expires_at < now or row.expires_at < now:
            raise unauthorized("Session has ended", "session_ended")
        # Compare-and-set on used_at: two concurrent refreshes cannot both win.
        claimed = await RefreshToken.filter(token_hash=digest, used_at=None).update(used_at=now)
        if not claimed:
            # Reuse of a rotated token: someone has a copy. End the whole session.
            await Session.filter(id=session.id).update(revoked_at=now, revoked_reason="reuse")
            reused = True
        else:
            reused = False
            user = await User.get(id=session.user_id)
            if user.disabled:
                raise ApiError(403, "account_disabled", "This account is disabled")
            new_refresh = await _issue_refresh(session, settings.auth.refresh_token_ttl)
    if reused:
        raise unauthorized(
            "Refresh token was already used; the session is revoked", "refresh_token_reused"
        )
    return session_json(tokens, tokens.access_token(user.id, session.id), new_refresh), user


async def end_session(session_id: str, reason: str = "logout") -> None:
    await Session.filter(id=session_id, revoked_at=None).update(
        revoked_at=utcnow(), revoked_reason=reason
    )


async def end_user_sessions(
    user_id: str, *, keep: str | None = None, reason: str = "logout"
) -> int:
    """End every live session of ``user_id`` except ``keep`` (sign out everywhere, or
    everywhere else); returns how many ended. API keys are not sessions and stay."""
    query = Session.filter(user_id=user_id, revoked_at=None)
    if keep:
        query = query.exclude(id=keep)
    return await query.update(revoked_at=utcnow(), revoked_reason=reason)


async def last_sign_in(user_id: str) -> Any:
    """When ``user_id`` last started a session (signup or login), or None."""
    row = await Session.filter(user_id=user_id).order_by("-created_at").first()
    return row.created_at if row is not None else None


# The user of a live session, in one statement on the read connection. Through the
# ORM this was two queries and 580 us of CPU per request with an access token (a
# join by select_related: 930 us); raw, it is a fraction of that (issue 18).
_SESSION_USER = (
    "SELECT {cols} FROM sessions s JOIN users u ON u.id = s.user_id"
    " WHERE s.id = {p[0]} AND s.user_id = {p[1]} AND s.revoked_at IS NULL"
    " AND s.expires_at > {p[2]}"
)


async def session_user(session_id: str, user_id: str) -> User | None:
    """The user of an access token's session while that session is live (logout
    revokes at once), else None. Every request with an access token asks this."""
    conn = read_connection()
    sql = _SESSION_USER.format(cols=select_list(User, "u"), p=placeholders(conn, 3))
    rows = await conn.execute_query_dict(sql, [session_id, user_id, utcnow()])
    return from_row(User, rows[0]) if rows else None


async def end_session_of_refresh_token(refresh_token: str, reason: str = "logout") -> None:
    """End the session that ``refresh_token`` belongs to (used or not); unknown: nothing."""
    if not isinstance(refresh_token, str) or not refresh_token or len(refresh_token) > 200:
        return
    row = await RefreshToken.get_or_none(token_hash=sha256_hex(refresh_token))
    if row is not None:
        await end_session(row.session_id, reason)
