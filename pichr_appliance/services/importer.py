"""Bulk import of local images (``pichr-appliance import``), resumable.

Every file goes through :func:`ingest.upload_local_file`, the same pipeline as an HTTP
upload. A journal in the data directory (``import-journal.jsonl``, one JSON line per
event, flushed and fsynced) remembers each source file by path, size, mtime and
sha256 and the ids it became:

- ``begun`` is written once the file's records exist, before any byte is copied;
- ``done`` once the file is ready.

Run again after an interruption (Ctrl-C, a crash, a reboot), an import skips what is
done, finishes what had begun if its upload completed, and otherwise discards the
half-made records and imports that file again: no duplicates, nothing lost.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ApiError
from ..models import Album, AlbumFile, File, Upload, User
from ..security import file_size_and_sha256
from . import albums, ingest

if TYPE_CHECKING:
    from ..runtime import Runtime

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".apng", ".gif", ".webp", ".avif",
                            ".heic", ".heif", ".hif", ".tif", ".tiff", ".bmp", ".mpo"})  # fmt: skip
JOURNAL_NAME = "import-journal.jsonl"


def find_images(paths: Iterable[str | os.PathLike[str]]) -> list[Path]:
    """The files to import: files named directly, and in folders (recursively) the
    files with an image suffix; hidden files and folders are left out. Sorted, unique."""
    found: dict[Path, None] = {}
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith(".") or Path(name).suffix.lower() not in IMAGE_SUFFIXES:
                        continue
                    found[Path(dirpath, name).resolve()] = None
        elif path.is_file():
            found[path.resolve()] = None
        else:
            raise FileNotFoundError(f"{path}: no such file or folder")
    return list(found)


def source_key(path: Path, stat: os.stat_result, sha256: str, user_id: str) -> str:
    """What identifies one source file for one owner in the journal."""
    return f"{user_id}|{path}|{stat.st_size}|{stat.st_mtime_ns}|{sha256}"


class Journal:
    """The append-only import journal of a data directory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, dict[str, Any]] = {}
        if path.exists():
            with open(path, encoding="utf-8") as fh:
                for line in fh:
                    try:
                        record = json.loads(line)
                    except ValueError:
                        continue  # a line cut short by a crash
                    key = record.get("key")
                    if key:
                        self.entries[key] = {**self.entries.get(key, {}), **record}

    def get(self, key: str) -> dict[str, Any] | None:
        """The latest state of ``key`` (``state``: begun | done), or None."""
        return self.entries.get(key)

    def write(self, record: dict[str, Any]) -> None:
        """Append one record durably (it survives a crash right after this returns)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(record, sort_keys=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        self.entries[record["key"]] = {**self.entries.get(record["key"], {}), **record}


def journal_for(settings: Any) -> Journal:
    """The import journal of this data directory."""
    return Journal(settings.data_path / JOURNAL_NAME)


@dataclass
class ImportResult:
    """What an import did; ``as_json()`` is the ``--json`` output."""

    imported: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    album_id: str | None = None
    interrupted: bool = False
    total: int = 0

    def as_json(self) -> dict[str, Any]:
        """The result as plain data."""
        return {
            "total": self.total,
            "imported": self.imported,
            "skipped": self.skipped,
            "failed": self.failed,
            "albumId": self.album_id,
            "interrupted": self.interrupted,
        }


async def find_or_create_album(rt: Runtime, user: User, title: str, visibility: str) -> Album:
    """The owner's album called ``title`` (the oldest, if several), created if missing."""
    album = await Album.filter(owner_id=user.id, title=title).order_by("created_at").first()
    if album is None:
        album = await albums.create(rt, user, {"title": title, "visibility": visibility})
    return album


async def _still_there(file_id: str | None) -> bool:
    return bool(file_id) and await File.filter(id=file_id).exclude(status="pending").exists()


async def run_import(
    rt: Runtime,
    user: User,
    paths: list[Path],
    *,
    visibility: str = "private",
    album_title: str | None = None,
    tags: list[str] | None = None,
    stop_after: int | None = None,
    on_file: Callable[[Path, str], None] | None = None,
) -> ImportResult:
    """Import ``paths`` for ``user``; ``on_file(path, outcome)`` after each file
    (outcome: imported | skipped | failed). ``stop_after`` stops after that many
    imports, as an interruption would (used by tests and for trial runs)."""
    result = ImportResult(total=len(paths))
    journal = journal_for(rt.settings)
    album = await find_or_create_album(rt, user, album_title, visibility) if album_title else None
    result.album_id = album.id if album else None
    for path in paths:
        if stop_after is not None and len(result.imported) >= stop_after:
            result.interrupted = True
            break
        outcome = await _import_one(rt, user, path, journal, visibility, album, tags, result)
        if on_file is not None:
            on_file(path, outcome)
    return result


async def _import_one(
    rt: Runtime,
    user: User,
    path: Path,
    journal: Journal,
    visibility: str,
    album: Album | None,
    tags: list[str] | None,
    result: ImportResult,
) -> str:
    try:
        stat = path.stat()
        _, sha = file_size_and_sha256(path)
    except OSError as exc:
        result.failed.append({"path": str(path), "error": exc.strerror or str(exc)})
        return "failed"
    key = source_key(path, stat, sha, user.id)
    entry = journal.get(key)
    if entry is not None and entry.get("state") == "begun":
        # Interrupted last time: keep the file if its upload completed, else start over.
        upload = await Upload.get_or_none(id=entry.get("uploadId"))
        if upload is not None and upload.status == "completed":
            journal.write({"key": key, "state": "done"})
            entry = journal.get(key)
        else:
            await ingest.discard(entry.get("fileId", ""))
            entry = None
    if entry is not None and entry.get("state") == "done" and await _still_there(entry["fileId"]):
        if album is not None:
            await _ensure_in_album(album, entry["fileId"])
        result.skipped.append({"path": str(path), "fileId": entry["fileId"]})
        return "skipped"

    async def begun(answer: dict[str, Any]) -> None:
        journal.write(
            {
                "key": key,
                "state": "begun",
                "path": str(path),
                "fileId": answer["fileId"],
                "uploadId": answer["uploadId"],
                "userId": user.id,
            }
        )

    fields: dict[str, Any] = {"visibility": visibility, "title": path.stem[:200]}
    if tags:
        fields["tags"] = tags
    if album is not None:
        fields["albumId"] = album.id
    try:
        await user.refresh_from_db()  # current usage, for the quota check
        file = await ingest.upload_local_file(
            rt, user, path, sha256=sha, fields=fields, on_presigned=begun
        )
    except ApiError as exc:
        result.failed.append({"path": str(path), "error": exc.message, "code": exc.code})
        return "failed"
    except OSError as exc:
        result.failed.append({"path": str(path), "error": exc.strerror or str(exc)})
        return "failed"
    journal.write({"key": key, "state": "done"})
    result.imported.append(
        {
            "path": str(path),
            "fileId": file.id,
            "bytes": file.bytes,
            "duplicateOf": file.duplicate_of,
        }
    )
    return "imported"


async def _ensure_in_album(album: Album, file_id: str) -> None:
    if not await AlbumFile.filter(album_id=album.id, file_id=file_id).exists():
        count = await AlbumFile.filter(album_id=album.id).count()
        await AlbumFile.create(album_id=album.id, file_id=file_id, position=count)
