"""Who may see what: the one home of the visibility rules of files and albums.

Every question "may this viewer see this file/album?" and "which rows may this viewer
list?" is answered here, for the metadata API, ``/i/{id}`` and album pages alike:

- The owner and staff (moderators, admins) see their/any file, whatever its state,
  except that a pending upload is the owner's alone.
- Others see a file only when it is ready (or removed: then they learn it is gone,
  410), not held by moderation (``hidden``), not private (unless they hold a signed
  URL, for the bytes), and its owner's account is not disabled. Private things are
  404, never 403.
- Image bytes exist only for ready (and removed, 410) files; age-restricted bytes need
  a viewer who confirmed their age (403 ``age_restricted``); expired files are 410.
- Listings (public feed, album pages) show others only ready, unheld, unexpired files,
  and age-restricted ones only to viewers who confirmed their age; listings are
  filtered, counted and paged in SQL with the Q filters below.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pypika_tortoise.terms import Criterion, Term, ValueWrapper
from tortoise.backends.sqlite.executor import SqliteExecutor
from tortoise.expressions import Q
from tortoise.filters import json_contains

from ..errors import ApiError, not_found
from ..models import Album, File, User, is_id
from ..timeutil import utcnow

STAFF_ROLES = ("moderator", "admin")


def is_owner(thing: File | Album, user: User | None) -> bool:
    """Whether ``user`` owns the file or album (anonymous uploads have no owner)."""
    return user is not None and thing.owner_id is not None and thing.owner_id == user.id


# Set on the request's own ``User`` instance when it authenticated with an API key.
_VIA_API_KEY = "_pichr_via_api_key"


def is_staff(user: User | None) -> bool:
    """Moderators and admins see everything, as the moderation queue needs; never
    through an API key (see :func:`through_api_key`)."""
    return user is not None and user.role in STAFF_ROLES and not getattr(user, _VIA_API_KEY, False)


def through_api_key(user: User) -> User:
    """Mark ``user`` (the instance one request authenticated with an API key) as acting
    through that key: staff powers never come from an API key, so the key of a
    moderator or admin sees and deletes only what its owner's plain account would.
    Marks the instance only; nothing is stored."""
    setattr(user, _VIA_API_KEY, True)
    return user


def reader(actor: Any) -> User | None:
    """Whose view of files a credential gives, for reads that do not refuse a key:
    the account, or None (anonymous) for nobody or an API key without ``read`` (an
    upload-only key, as ShareX integrations hold, opens nothing on ``/i/``)."""
    if actor is None or not actor.can("read"):
        return None
    return actor.user


def privileged(thing: File | Album, user: User | None) -> bool:
    """The owner or staff: the viewers that visibility, holds and age rules do not stop."""
    return is_owner(thing, user) or is_staff(user)


def age_ok(viewer: User | None) -> bool:
    """Whether ``viewer`` may see age-restricted content (signed in, age confirmed)."""
    return viewer is not None and viewer.age_confirmed


async def owner_disabled(owner_id: str | None) -> bool:
    """Whether the account that owns something is disabled (its content is hidden)."""
    if not owner_id:
        return False
    owner = await User.get_or_none(id=owner_id)
    return owner is not None and owner.disabled


# ---------------------------------------------------------------- files, one at a time


def may_see_file(
    file: File, viewer: User | None, *, disabled_owner: bool = False, signed: bool = False
) -> bool:
    """Whether ``viewer`` may know that ``file`` exists (else the answer is 404).

    ``signed``: the request carries a valid signed URL for the file's bytes, which
    opens a private file to whoever holds it.
    """
    if file.status == "pending" and not is_owner(file, viewer):
        return False
    if privileged(file, viewer):
        return True
    if file.hidden or disabled_owner:
        return False
    if file.visibility == "private" and not signed:
        return False
    return file.status in ("ready", "removed")


def check_available(file: File) -> None:
    """410 for files that expired or were removed by moderation."""
    if file.status == "removed":
        raise ApiError(410, "removed", "This file was removed")
    if file.expires_at is not None and file.expires_at <= utcnow():
        raise ApiError(410, "expired", "This file has expired")


async def visible_file(file_id: str, viewer: User | None) -> File:
    """The file if ``viewer`` may see its metadata; 404 otherwise (410 is the caller's)."""
    file = await File.get_or_none(id=file_id) if is_id(file_id) else None
    if file is None or not may_see_file(file, viewer):
        raise not_found("File")
    # Only others need the owner's account state: one query fewer for the owner.
    if not privileged(file, viewer) and await owner_disabled(file.owner_id):
        raise not_found("File")
    return file


def check_bytes(
    file: File | None, viewer: User | None, *, disabled_owner: bool, signed: bool
) -> None:
    """Raise what ``/i/{id}`` answers when ``viewer`` may not have the file's bytes.

    404 when absent, not (yet) stored or not visible; 410 when expired or removed;
    403 ``age_restricted`` for viewers who have not confirmed their age.
    """
    if file is None or file.status not in ("ready", "removed"):
        raise not_found("File")  # pending or failed uploads have no bytes, even for the owner
    if not may_see_file(file, viewer, disabled_owner=disabled_owner, signed=signed):
        raise not_found("File")
    check_available(file)
    if file.age_restricted and not privileged(file, viewer) and not age_ok(viewer):
        raise ApiError(403, "age_restricted", "Sign in and confirm your age to see this image")


def publicly_cacheable(file: File) -> bool:
    """Whether shared caches may keep the bytes (public/unlisted, not age-restricted)."""
    return file.visibility in ("public", "unlisted") and not file.age_restricted


# ---------------------------------------------------------------- albums


def may_see_album(album: Album, viewer: User | None, *, disabled_owner: bool) -> bool:
    """Public and unlisted albums are open to anyone; private ones, held ones and those
    of disabled accounts only to the owner and staff."""
    if privileged(album, viewer):
        return True
    return album.visibility != "private" and not album.hidden and not disabled_owner


def check_album_available(album: Album) -> None:
    """410 for albums removed by moderation."""
    if album.removed_at is not None:
        raise ApiError(410, "removed", "This album was removed")


async def visible_album(album_id: str, viewer: User | None) -> Album:
    """The album if ``viewer`` may see it (404 otherwise, never 403); 410 when removed."""
    album = await Album.get_or_none(id=album_id) if is_id(album_id) else None
    if album is None:
        raise not_found("Album")
    if not privileged(album, viewer):
        owner = await User.get_or_none(id=album.owner_id)
        if not may_see_album(album, viewer, disabled_owner=owner is None or owner.disabled):
            raise not_found("Album")
    check_album_available(album)
    return album


# ---------------------------------------------------------------- listings (SQL filters)


def shown_to_others(viewer: User | None, *, prefix: str = "", now: datetime | None = None) -> Q:
    """Files that listings show to viewers other than the owner and staff.

    Ready, not held, not expired, and age-restricted only for viewers who confirmed
    their age. ``prefix`` reaches the file through a relation (``"file__"`` from
    album entries).
    """
    now = now or utcnow()
    q = Q(**{f"{prefix}status": "ready", f"{prefix}hidden": False}) & (
        Q(**{f"{prefix}expires_at": None}) | Q(**{f"{prefix}expires_at__gt": now})
    )
    if not age_ok(viewer):
        q &= Q(**{f"{prefix}age_restricted": False})
    return q


def in_album_for(viewer: User | None, album: Album) -> Q:
    """The entries of ``album`` that ``viewer`` sees (a filter on ``AlbumFile``).

    The owner and staff see every entry; others neither private files nor what
    :func:`shown_to_others` leaves out. Unlisted files are "linkable, never listed":
    a public album does not list them; an unlisted album, itself reached only through
    its link, does (sharing that link shares its files).
    """
    q = Q(album_id=album.id)
    if privileged(album, viewer):
        return q
    listed = ["public", "unlisted"] if album.visibility == "unlisted" else ["public"]
    return q & shown_to_others(viewer, prefix="file__") & Q(file__visibility__in=listed)


def albums_named_for(viewer: User | None) -> Q:
    """The album entries whose album a File's ``albumIds`` names to ``viewer`` (a filter
    on ``AlbumFile``).

    Staff see every album; the owner their own; others only public albums that are
    neither held nor removed, of an enabled account. Unlisted albums are reached only
    through their link, so no File object names them to others.
    """
    if is_staff(viewer):
        return Q()
    listed = Q(album__visibility="public", album__hidden=False, album__removed_at=None) & ~Q(
        album__owner__disabled=True
    )
    if viewer is None:
        return listed
    return listed | Q(album__owner_id=viewer.id)


def public_feed(viewer: User | None) -> Q:
    """Everyone's public files as the public feed shows them to ``viewer``; files of
    disabled accounts never."""
    return shown_to_others(viewer) & Q(visibility="public") & ~Q(owner__disabled=True)


def own_files(user: User) -> Q:
    """The caller's own files as their listing shows them (pending uploads left out)."""
    return Q(owner_id=user.id) & ~Q(status="pending")


def has_tag(tag: str) -> Q:
    """Files tagged ``tag`` (tags are stored lowercase in a JSON list).

    PostgreSQL answers with its native ``jsonb @>``; SQLite has no JSON containment
    operator, so :func:`_sqlite_json_contains` gives Tortoise one (``json_each``).
    """
    return Q(tags__contains=[tag.strip().lower()])


class _SqliteJsonContains(Criterion):
    """``field`` (a JSON array) holds every element of ``value`` (a JSON array)."""

    def __init__(self, field: Term, value: Any) -> None:
        super().__init__()
        self.field = field
        self.value = value if isinstance(value, Term) else ValueWrapper(value)

    def nodes_(self) -> Any:
        yield self
        yield from self.field.nodes_()
        yield from self.value.nodes_()

    def replace_table(self, current_table: Any, new_table: Any) -> _SqliteJsonContains:
        return _SqliteJsonContains(self.field.replace_table(current_table, new_table), self.value)

    def get_sql(self, ctx: Any) -> str:
        field = self.field.get_sql(ctx)
        value = self.value.get_sql(ctx)  # a bound parameter, never inlined text
        return (
            f"NOT EXISTS (SELECT 1 FROM json_each({value}) AS want WHERE want.value "
            f"NOT IN (SELECT have.value FROM json_each({field}) AS have))"
        )


def _sqlite_json_contains(field: Term, value: Any) -> Criterion:
    return _SqliteJsonContains(field, value)


# Tortoise leaves ``__contains`` on JSON fields unimplemented for SQLite; with this
# override the same filter runs in SQL on both supported databases.
SqliteExecutor.FILTER_FUNC_OVERRIDE.setdefault(json_contains, _sqlite_json_contains)
