"""Shared limits, constrained types and the validation helpers of every request body.

Each limit of the HTTP API is written here once: the request models use these types,
the services that CLI commands also call validate with the same models or functions,
and the OpenAPI document is generated from the models (``model_json_schema()``).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)

from ..errors import ApiError, bad_request
from ..models import FILE_STATUSES, ROLES, VISIBILITIES

__all__ = ["StrictBool", "StrictInt", "StrictStr", "FILE_STATUSES", "ROLES", "VISIBILITIES"]

TITLE_MAX = 200
DESCRIPTION_MAX = 5000
FILENAME_MAX = 255
MAX_TAGS = 20
MAX_TAG_LEN = 50
MAX_EXPIRES_HOURS = 24 * 365 * 10
MAX_FILE_IDS = 1000
FILE_ID_MAX = 40
MAX_TEXT = 2000  # report details, moderation notes
NAME_MAX = 100  # first/last names, API key names
EMAIL_MAX = 254
MIN_PASSWORD = 8
MAX_PASSWORD = 1024
MIN_PART = 5 * 1024 * 1024
MAX_PARTS = 10_000
PAGE_MAX = 100
USER_METADATA_MAX_BYTES = 16 * 1024  # a user's metadata object, encoded as JSON
OFFSET_MAX = 10**9

USERNAME_PATTERN = r"^[A-Za-z0-9_]{3,32}$"
# Deliberately simple: one @, a dot in the domain, no spaces. Real validation is the
# confirmation mail a bigger install may add; this catches typos and garbage.
EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
SHA256_PATTERN = "^[0-9a-fA-F]{64}$"
API_KEY_PATTERN = "^pk_[1-9A-HJ-NP-Za-km-z]{32}$"
# Ids are a prefix plus random URL-safe letters and digits (security.new_id).
ID_PATTERNS = {
    "user": "^usr_[A-Za-z0-9]+$",
    "file": "^file_[A-Za-z0-9]+$",
    "upload": "^upl_[A-Za-z0-9]+$",
    "album": "^alb_[A-Za-z0-9]+$",
    "report": "^rpt_[A-Za-z0-9]+$",
    "key": "^key_[A-Za-z0-9]+$",
}

Visibility = Literal["public", "unlisted", "private"]
assert set(Visibility.__args__) == set(VISIBILITIES)  # type: ignore[attr-defined]
Role = Literal["user", "moderator", "admin"]
assert set(Role.__args__) == set(ROLES)  # type: ignore[attr-defined]


class Body(BaseModel):
    """Base of request bodies: unknown fields are ignored (clients send extras), known
    ones are checked strictly (no ``"1"`` for 1, no ``1`` for true)."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=False)


class Out(BaseModel):
    """Base of response objects: closed, so an undeclared field is an error."""

    model_config = ConfigDict(extra="forbid")

    def dump(self) -> dict[str, Any]:
        """The JSON-ready dict the API answers with."""
        return self.model_dump(mode="json")


# --- rules as plain functions (the models use them; services called by the CLI too) ---


def _or_empty(value: str | None) -> str:
    return value or ""


def email_value(value: str) -> str:
    """Trimmed, lower-cased, plausibly shaped email address."""
    email = (value or "").strip().lower()
    if len(email) > EMAIL_MAX or not EMAIL_RE.match(email):
        raise ValueError("not a valid email address")
    return email


def username_value(value: str) -> str:
    """3-32 letters, digits and underscores."""
    if not re.match(USERNAME_PATTERN, value):
        raise ValueError("3-32 characters, letters, digits and underscore only")
    return value


def filename_value(name: str) -> str:
    """A non-blank name without control characters, reduced to its last path part.

    Format characters (category Cf: U+202E right-to-left override, zero-width spaces,
    BOM...) are removed: they make a name display as another one ("x\u202egnp.exe")."""
    if any(unicodedata.category(c) == "Cc" for c in name):
        raise ValueError("control characters are not allowed")
    name = "".join(c for c in name if unicodedata.category(c) != "Cf")
    if not name.strip():
        raise ValueError("required")
    # Path separators are harmless (keys are built from ids), but they are not a name.
    return name.replace("\\", "/").rsplit("/", 1)[-1] or "image"


def tags_value(tags: list[str] | None) -> list[str]:
    """Trimmed, lower-cased, de-duplicated tags (in order)."""
    if not tags:
        return []
    if not all(t.strip() for t in tags):
        raise ValueError("tags must not be blank")
    return list(dict.fromkeys(t.strip().lower() for t in tags))


def ids_value(ids: list[str] | None) -> list[str]:
    """File ids de-duplicated in order."""
    return list(dict.fromkeys(ids or []))


# Optional texts and lists become "" / [] when absent or null (validate_default: the
# default None goes through the validator too).
Title = Annotated[
    Annotated[StrictStr, Field(max_length=TITLE_MAX)] | None,
    AfterValidator(_or_empty),
    Field(validate_default=True),
]
RequiredTitle = Annotated[StrictStr, Field(min_length=1, max_length=TITLE_MAX, pattern=r"\S")]
Description = Annotated[
    Annotated[StrictStr, Field(max_length=DESCRIPTION_MAX)] | None,
    AfterValidator(_or_empty),
    Field(validate_default=True),
]
Tag = Annotated[StrictStr, Field(min_length=1, max_length=MAX_TAG_LEN, pattern=r"\S")]
Tags = Annotated[
    Annotated[list[Tag], Field(max_length=MAX_TAGS)] | None,
    AfterValidator(tags_value),
    Field(
        description="Lower-cased and de-duplicated; surrounding blanks are dropped.",
        validate_default=True,
    ),
]
Filename = Annotated[
    StrictStr,
    Field(
        min_length=1,
        max_length=FILENAME_MAX,
        pattern=r"^[^\x00-\x1f\x7f-\x9f]*\S[^\x00-\x1f\x7f-\x9f]*$",
        description="No control characters; a path is reduced to its last part.",
    ),
    AfterValidator(filename_value),
]
FileIdRef = Annotated[StrictStr, Field(min_length=1, max_length=FILE_ID_MAX)]
FileIds = Annotated[list[FileIdRef], Field(max_length=MAX_FILE_IDS), AfterValidator(ids_value)]
Hours = Annotated[
    StrictFloat, Field(gt=0, le=MAX_EXPIRES_HOURS, description="Hours.")
]  # StrictFloat takes ints too
Sha256 = Annotated[StrictStr, Field(pattern=SHA256_PATTERN)]
Password = Annotated[StrictStr, Field(min_length=MIN_PASSWORD, max_length=MAX_PASSWORD)]
Username = Annotated[
    StrictStr, Field(max_length=64, pattern=USERNAME_PATTERN), AfterValidator(username_value)
]
Email = Annotated[
    StrictStr,
    Field(max_length=EMAIL_MAX, json_schema_extra={"format": "email"}),
    AfterValidator(email_value),
]
Name = Annotated[StrictStr, Field(max_length=NAME_MAX)]
Text = Annotated[
    Annotated[StrictStr, Field(max_length=MAX_TEXT)] | None,
    AfterValidator(_or_empty),
    Field(validate_default=True),
]
Count = Annotated[int, Field(ge=0)]
Limit = Annotated[int, Field(ge=1, le=PAGE_MAX)]
Time = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
Url = Annotated[str, Field(json_schema_extra={"format": "uri"})]


def Id(kind: str) -> Any:  # noqa: N802 - used like a type
    """A string typed as an id of ``kind`` (``file``, ``album``...)."""
    return Annotated[str, Field(pattern=ID_PATTERNS[kind])]


# --- validation ------------------------------------------------------------------------

M = TypeVar("M", bound=BaseModel)


def validation_error(exc: ValidationError) -> ApiError:
    """The one 400 answer of a body that does not fit its model: ``validation_error``,
    ``details.field`` naming the first bad field, ``details.fields`` all of them."""
    fields = []
    for err in exc.errors():
        # A union member or validator adds no field of its own to the location.
        loc = [str(p) for p in err["loc"] if not str(p).startswith(("function-", "list["))]
        loc = [p for p in loc if p not in ("str", "int", "float", "bool", "none")]
        name = ".".join(loc) or "body"
        message = err["msg"].removeprefix("Value error, ")
        named = re.match(r"^(\w+)(?: or \w+)?: ", message)
        if name == "body" and named:  # a rule on several fields names them itself
            name, message = named.group(1), message[named.end() :]
        if not any(f["field"] == name for f in fields):
            fields.append({"field": name, "message": message})
    first = fields[0]
    return bad_request(
        f"{first['field']}: {first['message']}",
        "validation_error",
        {"field": first["field"].split(".")[0], "fields": fields},
    )


def validate(model: type[M], data: Any, context: dict[str, Any] | None = None) -> M:
    """``data`` as a ``model`` instance (instances pass through); 400 otherwise."""
    if isinstance(data, model):
        return data
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise validation_error(exc) from None


def check_value(field: str, rule: Any, value: Any) -> Any:
    """Apply one rule function outside a model (CLI paths); 400 naming ``field``."""
    try:
        return rule(value)
    except (ValueError, TypeError) as exc:
        raise bad_request(
            f"{field}: {exc}",
            "validation_error",
            {"field": field, "fields": [{"field": field, "message": str(exc)}]},
        ) from None
