"""Errors under ``/auth/v1`` in the dialect supabase-js parses (``lib/fetch.js``).

The client reads the error code from ``code`` when the answer carries
``X-Supabase-Api-Version: 2024-01-01`` (else from ``error_code``) and the message from
``msg`` (then ``message``, ``error``); ``weak_password`` becomes ``AuthWeakPasswordError``
and ``session_not_found`` ``AuthSessionMissingError``; any other 4xx ``AuthApiError``
with the status. So every error here keeps the appliance's ``{error, code, details?}``
with GoTrue's code in ``code`` and adds ``error_code``, ``msg`` and ``message``.
Errors the services raise in the appliance's own codes are translated by
:func:`as_gotrue`, which ``create_app`` installs for the ``/auth/v1`` paths.
"""

from __future__ import annotations

from typing import Any

from ..errors import ApiError
from ..schemas.gotrue import API_VERSION

API_VERSION_HEADER = "X-Supabase-Api-Version"

# Appliance code -> (status, GoTrue code, message; None keeps the appliance's).
TRANSLATIONS: dict[str, tuple[int, str, str | None]] = {
    "validation_error": (400, "validation_failed", None),
    "invalid_request": (400, "validation_failed", None),
    "invalid_query": (400, "validation_failed", None),
    "invalid_json": (400, "bad_json", None),
    "unauthorized": (401, "no_authorization", "This endpoint requires a valid Bearer token"),
    "invalid_token": (403, "bad_jwt", "invalid JWT: unable to parse or verify signature"),
    "invalid_credentials": (400, "invalid_credentials", "Invalid login credentials"),
    "wrong_password": (400, "invalid_credentials", "current_password: does not match"),
    "account_disabled": (403, "user_banned", None),
    "signup_disabled": (422, "signup_disabled", "Signups not allowed for this instance"),
    "email_taken": (422, "email_exists", None),
    "username_taken": (422, "user_already_exists", None),
    "account_exists": (422, "user_already_exists", None),
    "invalid_refresh_token": (
        400,
        "refresh_token_not_found",
        "Invalid Refresh Token: Refresh Token Not Found",
    ),
    "refresh_token_reused": (
        400,
        "refresh_token_already_used",
        "Invalid Refresh Token: Already Used (the session is revoked)",
    ),
    "session_ended": (400, "session_expired", "Invalid Refresh Token: the session has ended"),
    "rate_limited": (429, "over_request_rate_limit", None),
    "internal_error": (500, "unexpected_failure", None),
}


def gotrue_error(
    status: int,
    code: str,
    message: str,
    *,
    details: Any = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> ApiError:
    """An ApiError already in the GoTrue dialect."""
    fields = {**(extra or {}), "error_code": code, "msg": message, "message": message}
    headers = {**(headers or {}), API_VERSION_HEADER: API_VERSION}
    return ApiError(status, code, message, details, headers=headers, extra=fields)


def weak_password(message: str, reasons: list[str]) -> ApiError:
    """422 ``weak_password`` (``AuthWeakPasswordError`` with ``reasons`` in the client)."""
    return gotrue_error(
        422, "weak_password", message, extra={"weak_password": {"reasons": reasons}}
    )


def as_gotrue(err: ApiError) -> ApiError:
    """``err`` in the GoTrue dialect (errors already in it pass unchanged)."""
    if "error_code" in err.extra:
        return err
    status, code, message = TRANSLATIONS.get(err.code, (err.status, err.code, None))
    return gotrue_error(
        status,
        code,
        message or err.message,
        details=err.details,
        headers=err.headers,
        extra=err.extra,
    )
