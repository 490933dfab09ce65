"""``GET /api/v1/files/{id}`` from memory: the file, its owner's state and its albums,
loaded with one query and kept in ``rt.hotcache`` with the answer's JSON per viewer class.

The rules stay in ``access.py``; this module only remembers what they were applied to.
An entry holds the ``File`` row, whether its owner is disabled, and each album entry
with what ``access.albums_named_for`` looks at (the album's owner and whether it is
listed: public, not held, not removed, of an enabled account). From that it answers
every viewer the way ``access.visible_file`` + ``files.album_ids_for`` do, with the
serialised body kept per viewer class: ``staff`` (every album), ``owner`` (listed + the
owner's albums) and ``others`` (anonymous and other accounts: listed albums only).
Expiry (410) is checked on every request, never cached.

An entry is trusted only while the database has not changed since it was loaded:
on SQLite, ``PRAGMA data_version`` on a connection of this module's own changes
whenever any other connection commits (this process's writer, another worker, a CLI
command), costs a few microseconds, and so makes the cache exact across the workers
and commands of one database, whatever wrote. Events that drop the ``/i/`` metadata
(``files.forget``, and ``file_invalidated`` through pichr-redis) drop entries too.
Without a SQLite file (PostgreSQL, in-memory) nothing is cached; each request is one
query instead of three.
"""

from __future__ import annotations

import asyncio
import sqlite3
from typing import TYPE_CHECKING, Any

from sanic.response import json
from tortoise import connections

from ..db import READ, from_row, placeholders, read_connection, select_list
from ..errors import not_found
from ..models import File, User, is_id
from ..schemas.files import FileOut
from . import access

if TYPE_CHECKING:
    from ..runtime import Runtime

# One statement for what three ORM queries asked: the file, its owner's flag, and its
# album entries (one row each; a file in no album gives one row of NULLs), in the
# order ``files.album_ids_for`` gives them.
_SQL = (
    "SELECT {cols}, u.disabled AS _owner_disabled, a.id AS _album_id,"
    " a.owner_id AS _album_owner,"
    " (a.visibility = 'public' AND NOT a.hidden AND a.removed_at IS NULL"
    "  AND NOT COALESCE(au.disabled, FALSE)) AS _album_listed"
    " FROM files f"
    " LEFT JOIN users u ON u.id = f.owner_id"
    " LEFT JOIN album_files af ON af.file_id = f.id"
    " LEFT JOIN albums a ON a.id = af.album_id"
    " LEFT JOIN users au ON au.id = a.owner_id"
    " WHERE f.id = {param} ORDER BY af.added_at, af.id"
)


class Entry:
    """One file as this endpoint needs it, and its answers per viewer class."""

    __slots__ = ("file", "owner_disabled", "albums", "version", "bodies", "meta")

    def __init__(self, file: File | None, owner_disabled: bool, albums: list, version: Any):
        self.file = file
        self.owner_disabled = owner_disabled
        # (album id, album owner id, listed to everyone)
        self.albums: list[tuple[str, str, bool]] = albums
        self.version = version
        self.bodies: dict[str, bytes] = {}
        self.meta: Any = None  # what /i/ keeps of it (``serving.Meta``), made there


class _Version:
    """``PRAGMA data_version`` of a SQLite file, on a connection used for nothing else.

    Asked once per turn of the event loop, not per request (it was a tenth of a
    ``GET /i/`` of 31 KB). A handler runs in a turn after the one that read its request
    from the socket (the read wakes it through a future), so a request answered with
    this turn's value had been received before the turn began, and so before the value
    was asked: a commit that ended before a request arrived is seen by it. The exception
    is a request pipelined behind another on one connection, which Sanic may answer in
    the turn that read it; it was sent before its predecessor's answer came back.
    """

    def __init__(self) -> None:
        self.conn: sqlite3.Connection | None = None
        self.path: str | None = None
        self.known = False  # whether ``path`` was looked up (None: nothing to ask)
        self._this_turn: int | None = None

    def current(self) -> int | None:
        """The database's change counter as this process sees it; None when unknown
        (not SQLite, in memory, or the file could not be asked: then nothing is cached)."""
        if self._this_turn is not None:
            return self._this_turn
        version = self._ask()
        if version is not None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no loop: nothing to share the value with
                return version
            self._this_turn = version
            loop.call_soon(self._forget)  # runs at the next turn, before its handlers
        return version

    def _forget(self) -> None:
        self._this_turn = None

    def _ask(self) -> int | None:
        if not self.known:
            # Looked up once: asking Tortoise for the connection costs more than the
            # pragma, and a runtime's database file never changes.
            self.path, self.known = _sqlite_path(), True
        if self.path is None:
            return None
        try:
            if self.conn is None:
                # timeout=0: the loop never waits here; a busy file means "unknown".
                self.conn = sqlite3.connect(self.path, timeout=0, check_same_thread=False)
                self.conn.execute("PRAGMA query_only = ON")
            return self.conn.execute("PRAGMA data_version").fetchone()[0]
        except sqlite3.Error:
            self.close()
            return None

    def close(self) -> None:
        """Close the connection (reopened on the next question)."""
        if self.conn is not None:
            self.conn.close()
        self.conn = None


def _sqlite_path() -> str | None:
    try:
        conn = connections.get(READ)
    except Exception:
        return None
    path = getattr(conn, "filename", None)
    return path if path and path != ":memory:" else None


async def load(file_id: str, version: Any = None) -> Entry:
    """The entry of ``file_id`` from the database, in one query (an absent file too)."""
    conn = read_connection()
    (param,) = placeholders(conn, 1)
    sql = _SQL.format(cols=select_list(File, "f"), param=param)
    rows = await conn.execute_query_dict(sql, [file_id])
    if not rows:
        return Entry(None, False, [], version)
    first = rows[0]
    file = from_row(File, first)
    albums = [
        (r["_album_id"], r["_album_owner"], bool(r["_album_listed"]))
        for r in rows
        if r["_album_id"] is not None
    ]
    return Entry(file, bool(first["_owner_disabled"]), albums, version)


def _version(rt: Runtime) -> int | None:
    probe = rt.hotcache.version_probe
    if probe is None:
        probe = rt.hotcache.version_probe = _Version()  # one per runtime (its database)
    return probe.current()


async def _cached(rt: Runtime, file_id: str, version: int) -> Entry:
    found = rt.hotcache.get_entry(file_id)
    if found is not None and found.version == version:
        return found
    # One load per file and version, however many requests ask meanwhile. Every commit
    # (the view counts' flush every few seconds) makes every entry stale at once; with
    # a load per request, 128 connections queued 128 loads behind one read connection
    # and each waited for a turn of a busy loop: a 1.5-5 s stall of the whole worker
    # every flush (bench/run_all.py p99-128).
    key = (file_id, version)
    loading = rt.hotcache.loading
    task = loading.get(key)
    if task is None:
        task = loading[key] = asyncio.ensure_future(_load_and_keep(rt, file_id, version))
        task.add_done_callback(lambda t: _finished(loading, key, t))
    # shield: a client that goes away cancels its own wait, not the others' load.
    return await asyncio.shield(task)


def _finished(loading: dict, key: tuple[str, int], task: asyncio.Future) -> None:
    loading.pop(key, None)
    if not task.cancelled():
        task.exception()  # retrieved: when every waiter left, a failure is not "unhandled"


async def _load_and_keep(rt: Runtime, file_id: str, version: int) -> Entry:
    found = await load(file_id, version)
    rt.hotcache.put_entry(file_id, found)
    return found


async def entry(rt: Runtime, file_id: str) -> Entry:
    """The cached entry while the database is unchanged; loaded (and cached) otherwise,
    or loaded every time when the database cannot say whether it changed."""
    version = _version(rt)  # before loading: a later commit makes the entry stale
    if version is None:
        return await load(file_id)
    return await _cached(rt, file_id, version)


async def exact_entry(rt: Runtime, file_id: str) -> Entry | None:
    """The entry as :func:`entry` gives it on SQLite; None elsewhere (the caller keeps
    its own, time-limited cache: ``/i/`` on PostgreSQL)."""
    version = _version(rt)
    return None if version is None else await _cached(rt, file_id, version)


def _viewer_class(found: Entry, viewer: User | None) -> str | None:
    """Whose answer ``viewer`` gets; None for an answer of its own (another account
    with an album holding this file: not made by the core, answered uncached)."""
    if access.is_staff(viewer):
        return "staff"
    if access.is_owner(found.file, viewer):
        return "owner"
    if viewer is not None and any(owner == viewer.id for _, owner, _ in found.albums):
        return None
    return "others"


def _album_ids(found: Entry, viewer: User | None) -> list[str]:
    """``files.album_ids_for`` from the entry (the rules of ``access.albums_named_for``)."""
    if access.is_staff(viewer):
        return [a for a, _, _ in found.albums]
    mine = viewer.id if viewer is not None else None
    return [a for a, owner, listed in found.albums if listed or owner == mine]


def _body(rt: Runtime, found: Entry, viewer: User | None) -> bytes:
    out = FileOut.of(rt.settings, rt.storage, found.file, _album_ids(found, viewer))
    return json(out.dump()).body


async def file_body(rt: Runtime, file_id: str, viewer: User | None) -> bytes:
    """The JSON answer of ``GET /files/{id}`` for ``viewer``, byte for byte what
    ``access.visible_file`` + ``check_available`` + ``FileOut`` give: 404 when the
    viewer may not see the file, 410 when removed or expired."""
    if not is_id(file_id):
        raise not_found("File")
    found = await entry(rt, file_id)
    file = found.file
    if file is None or not access.may_see_file(file, viewer):
        raise not_found("File")
    if found.owner_disabled and not access.privileged(file, viewer):
        raise not_found("File")
    access.check_available(file)
    kind = _viewer_class(found, viewer)
    if kind is None:
        return _body(rt, found, viewer)
    body = found.bodies.get(kind)
    if body is None:
        body = found.bodies[kind] = _body(rt, found, viewer)
    return body
