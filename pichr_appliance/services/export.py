"""The GDPR export: a ZIP of an account's metadata and original files, made as it streams.

Layout (documented in docs/api.md)::

    profile.json     the User object with usage
    files.json       File objects of every file (pending uploads excluded)
    albums.json      albums with their file ids in album order
    reports.json     reports the user made
    api-keys.json    API key records (never the secrets)
    user-metadata.json  the metadata object kept through /auth/v1 (``{}`` when none)
    files/<fileId>/<filename>   original bytes of ready files
    manifest.json    written last: counts, and files whose bytes were not included

Nothing is built whole in memory or on disk: entries are written through
:mod:`zipfile` into a small buffer that is handed to the response each time it passes
``FLUSH_BYTES`` (ZIP data descriptors make that possible without seeking).
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..models import ApiKey, File, Report, User
from ..timeutil import iso, utcnow
from . import accounts, albums
from . import files as files_service
from .api_keys import key_json
from .moderation import report_json

if TYPE_CHECKING:
    from ..runtime import Runtime

FLUSH_BYTES = 256 * 1024


class _Sink:
    """A write-only, unseekable file object that collects bytes until taken."""

    def __init__(self) -> None:
        self.buffer = bytearray()

    def write(self, data: bytes) -> int:
        self.buffer += data
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        data = bytes(self.buffer)
        self.buffer.clear()
        return data


def _date_time(when: datetime | None) -> tuple[int, int, int, int, int, int]:
    when = (when or utcnow()).astimezone(UTC)
    return max(when, datetime(1980, 1, 1, tzinfo=UTC)).timetuple()[:6]


def filename(user: User) -> str:
    """The download name of an export: ``pichr-export-<username>-<YYYYMMDD>.zip``."""
    return f"pichr-export-{user.username}-{utcnow():%Y%m%d}.zip"


async def stream(rt: Runtime, user: User) -> AsyncIterator[bytes]:
    """Yield the export ZIP of ``user`` in chunks of about ``FLUSH_BYTES``."""
    sink = _Sink()
    zf = zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_DEFLATED)

    def put_json(name: str, data: Any) -> None:
        zf.writestr(name, json.dumps(data, indent=2, ensure_ascii=False))

    await user.refresh_from_db()
    put_json("profile.json", accounts.user_json(user, usage=True, settings=rt.settings))
    files = await File.filter(owner_id=user.id).exclude(status="pending").order_by("created_at")
    put_json("files.json", await files_service.files_json(rt.settings, rt.storage, files, user))
    put_json("albums.json", await albums.export_rows(user))
    reports = await Report.filter(reporter_id=user.id).order_by("created_at")
    put_json("reports.json", [report_json(r) for r in reports])
    keys = await ApiKey.filter(user_id=user.id).order_by("created_at")
    put_json("api-keys.json", [key_json(k) for k in keys])
    put_json("user-metadata.json", user.user_metadata or {})
    yield sink.take()

    included, left_out = 0, []
    for file in files:
        # Removed or held content is not handed out again, even to its owner.
        if file.status != "ready" or file.hidden:
            left_out.append({"id": file.id, "reason": "held" if file.hidden else file.status})
            continue
        if await rt.storage.size(file.storage_key) is None:
            left_out.append({"id": file.id, "reason": "missing"})
            continue
        info = zipfile.ZipInfo(
            f"files/{file.id}/{files_service.safe_filename(file.filename)}",
            date_time=_date_time(file.created_at),
        )
        info.compress_type = zipfile.ZIP_STORED  # images are compressed already
        info.file_size = file.bytes  # lets zipfile choose ZIP64 up front for big files
        with zf.open(info, "w") as entry:
            async for chunk in rt.storage.open(file.storage_key):
                entry.write(chunk)
                if len(sink.buffer) >= FLUSH_BYTES:
                    yield sink.take()
        included += 1
        yield sink.take()
    put_json(
        "manifest.json",
        {
            "userId": user.id,
            "exportedAt": iso(utcnow()),
            "files": len(files),
            "originalsIncluded": included,
            "originalsLeftOut": left_out,
        },
    )
    zf.close()
    yield sink.take()
