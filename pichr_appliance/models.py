"""Tortoise ORM models. Schema changes go through migrations in ``migrations/``."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

# Every model sets ``_no_comments``: otherwise Tortoise reads each class's source with
# ``inspect.getsource`` (which parses the whole module with ``ast``) to look for ``#:``
# field comments, of which there are none. That was most of this module's import time,
# and so of ``serve``'s start-up (issue 18).

ID_MAX_LENGTH = 40  # every id column (``new_id`` makes ~20 characters)


def is_id(value: Any, max_length: int = ID_MAX_LENGTH) -> bool:
    """Whether ``value`` can be looked up in an id column: a string that fits it.

    Tortoise refuses a longer lookup value with a ValidationError instead of finding
    no row, so every id that comes from a client is checked with this first.
    """
    return isinstance(value, str) and 0 < len(value) <= max_length


ROLES = ("user", "moderator", "admin")
VISIBILITIES = ("public", "unlisted", "private")
FILE_STATUSES = ("pending", "ready", "failed", "removed")


class User(Model):
    _no_comments = True  # the note above the models
    id = fields.CharField(max_length=40, primary_key=True)
    email = fields.CharField(max_length=254, unique=True)  # stored lower-cased
    username = fields.CharField(max_length=32)
    username_key = fields.CharField(max_length=32, unique=True)  # lower-cased, for uniqueness
    first_name = fields.CharField(max_length=100, default="")
    last_name = fields.CharField(max_length=100, default="")
    password_hash = fields.CharField(max_length=255, null=True)
    # Who vouches for this account besides its password: "<source>:<id there>" (e.g.
    # "auth_proxy:ceo"), set by the plugin that created it or by an operator's link.
    external_id = fields.CharField(max_length=200, null=True, unique=True)
    role = fields.CharField(max_length=16, default="user")
    plan = fields.CharField(max_length=32, default="free")
    age_confirmed = fields.BooleanField(default=False)
    disabled = fields.BooleanField(default=False)
    usage_bytes = fields.BigIntField(default=0)
    usage_files = fields.IntField(default=0)
    # Free-form JSON object a client keeps with the account: GoTrue's user_metadata
    # (``data`` of /auth/v1 signup and PUT /user, docs/supabase-js.md). None: {}.
    user_metadata = fields.JSONField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "users"


class Session(Model):
    _no_comments = True  # the note above the models
    id = fields.CharField(max_length=40, primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="sessions", on_delete=fields.CASCADE)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()
    revoked_at = fields.DatetimeField(null=True)
    revoked_reason = fields.CharField(max_length=32, null=True)
    user_agent = fields.CharField(max_length=255, default="")

    class Meta:
        table = "sessions"


class RefreshToken(Model):
    _no_comments = True  # the note above the models
    # One row per refresh token ever issued: a token is single-use (rotation).

    token_hash = fields.CharField(max_length=64, primary_key=True)
    session = fields.ForeignKeyField(
        "models.Session", related_name="refresh_tokens", on_delete=fields.CASCADE
    )
    used_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "refresh_tokens"


class ApiKey(Model):
    _no_comments = True  # the note above the models
    id = fields.CharField(max_length=40, primary_key=True)
    user = fields.ForeignKeyField("models.User", related_name="api_keys", on_delete=fields.CASCADE)
    name = fields.CharField(max_length=100)
    prefix = fields.CharField(max_length=16)
    key_hash = fields.CharField(max_length=64, unique=True)
    permissions = fields.JSONField(default=list)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(null=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_keys"


class File(Model):
    _no_comments = True  # the note above the models
    id = fields.CharField(max_length=40, primary_key=True)
    owner = fields.ForeignKeyField(
        "models.User", related_name="files", null=True, on_delete=fields.SET_NULL
    )
    title = fields.CharField(max_length=200, default="")
    description = fields.TextField(default="")
    filename = fields.CharField(max_length=255)
    mime = fields.CharField(max_length=64)
    bytes = fields.BigIntField(default=0)
    width = fields.IntField(null=True)
    height = fields.IntField(null=True)
    visibility = fields.CharField(max_length=16, default="public")
    status = fields.CharField(max_length=16, default="pending", db_index=True)
    view_count = fields.BigIntField(default=0)
    download_count = fields.BigIntField(default=0)
    nsfw_score = fields.FloatField(null=True)
    age_restricted = fields.BooleanField(default=False)
    hidden = fields.BooleanField(default=False)  # held by a csam report until a decision
    tags = fields.JSONField(default=list)
    sha256 = fields.CharField(max_length=64, null=True, db_index=True)
    phash = fields.CharField(max_length=16, null=True)
    blurhash = fields.CharField(max_length=64, null=True)  # placeholder for the web UI
    animated = fields.BooleanField(default=False)  # variants may keep the animation
    duplicate_of = fields.CharField(max_length=40, null=True)
    storage_key = fields.CharField(max_length=512)
    keep_location = fields.BooleanField(default=False)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)
    updated_at = fields.DatetimeField(auto_now=True)
    expires_at = fields.DatetimeField(null=True, db_index=True)
    removed_at = fields.DatetimeField(null=True)
    # Set when the retention period of removed content ended and its bytes were deleted.
    purged_at = fields.DatetimeField(null=True)

    class Meta:
        table = "files"


class Upload(Model):
    _no_comments = True  # the note above the models
    id = fields.CharField(max_length=40, primary_key=True)
    file = fields.ForeignKeyField("models.File", related_name="uploads", on_delete=fields.CASCADE)
    owner = fields.ForeignKeyField(
        "models.User", related_name="uploads", null=True, on_delete=fields.CASCADE
    )
    kind = fields.CharField(max_length=16, default="direct")  # direct | multipart | bucket
    # pending | receiving (claimed by a request) | completed | aborted | failed
    status = fields.CharField(max_length=16, default="pending")
    declared_bytes = fields.BigIntField()
    declared_sha256 = fields.CharField(max_length=64, null=True)
    mime = fields.CharField(max_length=64)
    part_size = fields.BigIntField(null=True)
    part_count = fields.IntField(null=True)
    backend_upload_id = fields.CharField(max_length=255, null=True)
    album_id = fields.CharField(max_length=40, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    expires_at = fields.DatetimeField(db_index=True)
    completed_at = fields.DatetimeField(null=True)
    # Who receives it while ``receiving`` and until when (services/claims.py): a claim
    # that runs out (its process died) lets a retry take the upload over.
    claimed_by = fields.CharField(max_length=200, null=True)
    claimed_until = fields.DatetimeField(null=True)
    # A one-request upload (or import): its client never saw the ids, so a dead
    # attempt is discarded rather than kept for a retry.
    one_step = fields.BooleanField(default=False)

    class Meta:
        table = "uploads"


class UploadPart(Model):
    _no_comments = True  # the note above the models
    id = fields.IntField(primary_key=True)
    upload = fields.ForeignKeyField("models.Upload", related_name="parts", on_delete=fields.CASCADE)
    part_number = fields.IntField()
    etag = fields.CharField(max_length=128)
    bytes = fields.BigIntField()
    storage_key = fields.CharField(max_length=512)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "upload_parts"
        unique_together = (("upload", "part_number"),)


class Album(Model):
    _no_comments = True  # the note above the models
    id = fields.CharField(max_length=40, primary_key=True)
    owner = fields.ForeignKeyField("models.User", related_name="albums", on_delete=fields.CASCADE)
    title = fields.CharField(max_length=200)
    description = fields.TextField(default="")
    visibility = fields.CharField(max_length=16, default="public")
    tags = fields.JSONField(default=list)
    cover_file_id = fields.CharField(max_length=40, null=True)
    hidden = fields.BooleanField(default=False)
    removed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "albums"


class AlbumFile(Model):
    _no_comments = True  # the note above the models
    id = fields.IntField(primary_key=True)
    album = fields.ForeignKeyField("models.Album", related_name="entries", on_delete=fields.CASCADE)
    file = fields.ForeignKeyField("models.File", related_name="entries", on_delete=fields.CASCADE)
    position = fields.IntField(default=0)
    added_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "album_files"
        unique_together = (("album", "file"),)


class Report(Model):
    _no_comments = True  # the note above the models
    id = fields.CharField(max_length=40, primary_key=True)
    reporter = fields.ForeignKeyField(
        "models.User", related_name="reports", null=True, on_delete=fields.SET_NULL
    )
    reporter_key = fields.CharField(max_length=64, null=True)  # user id or hashed IP
    target_type = fields.CharField(max_length=16)  # file | album
    target_id = fields.CharField(max_length=40, db_index=True)
    reason = fields.CharField(max_length=32)
    details = fields.TextField(default="")
    status = fields.CharField(max_length=16, default="open", db_index=True)
    system = fields.BooleanField(default=False)
    action = fields.CharField(max_length=32, null=True)
    note = fields.TextField(default="")
    resolved_by = fields.CharField(max_length=64, null=True)
    resolved_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "reports"


class AuditEntry(Model):
    _no_comments = True  # the note above the models
    # Append-only log of moderation and administration actions.

    id = fields.IntField(primary_key=True)
    actor_id = fields.CharField(max_length=64, null=True)
    actor_label = fields.CharField(max_length=200, default="")
    action = fields.CharField(max_length=64)
    target_type = fields.CharField(max_length=16, default="")
    target_id = fields.CharField(max_length=40, default="")
    note = fields.TextField(default="")
    data = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_log"


class Lease(Model):
    _no_comments = True  # the note above the models
    # A named job that one process at a time may run (the sweeper): the holder renews
    # it; when the holder dies it expires and another process takes over.

    name = fields.CharField(max_length=64, primary_key=True)
    holder = fields.CharField(max_length=200)
    expires_at = fields.DatetimeField()

    class Meta:
        table = "leases"


class Variant(Model):
    _no_comments = True  # the note above the models
    # A made variant (services/variant_cache.py): its size and when it was last served
    # (updated at most every ``images.variant_touch_seconds``), for the disk budget's
    # least-recently-used eviction. No foreign key: variants go with their file's prefix.

    key = fields.CharField(max_length=255, primary_key=True)
    file_id = fields.CharField(max_length=40, db_index=True)
    bytes = fields.BigIntField()
    last_used = fields.DatetimeField(db_index=True)

    class Meta:
        table = "variants"
