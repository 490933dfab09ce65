"""Online backups and restores of a whole appliance.

A backup is a folder (or the same folder in a ``.tar``/``.tar.gz``)::

    manifest.json        format, versions, time, counts, sha256 and size of every file
    pichr.sqlite3        the database, a consistent snapshot (SQLite's backup API)
    secret.key           the signing secret (sessions and signed URLs keep working)
    supabase-anon.key    the generated supabase-js anon key (clients keep working)
    config.toml          the configuration file, when the appliance was started with one
    import-journal.jsonl what ``import`` already did (so that a rerun skips it)
    storage/<key>        every stored object (originals, variants, parts)

Taken while the server runs: objects are copied first, then the database is
snapshotted, then objects that the snapshot references but the first pass missed
(uploads finished in between) are copied. Objects are immutable under their key, so
the result is the state at the moment of the snapshot, plus perhaps a few orphans that
``gc`` removes after a restore. ``manifest.json`` is written last: a folder without one
is an unfinished backup.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sqlite3
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..security import file_size_and_sha256
from ..storage.base import ObjectNotFound
from ..timeutil import iso, utcnow

if TYPE_CHECKING:
    from ..runtime import Runtime

FORMAT = "pichr-appliance-backup"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"
DATABASE = "pichr.sqlite3"
OBJECTS = "storage"
EXTRA_FILES = ("secret.key", "supabase-anon.key", "import-journal.jsonl")
TAR_SUFFIXES = (".tar", ".tar.gz", ".tgz")

Progress = Callable[[int], None]


class BackupError(Exception):
    """A backup cannot be taken or restored; the message says why and what to do."""


def sqlite_path(settings: Any) -> Path | None:
    """The database file of a SQLite appliance, or None for another database."""
    url = settings.database_url
    if not url.startswith("sqlite://") or url.endswith(":memory:"):
        return None
    return Path(url[len("sqlite://") :])


def snapshot_database(source: Path, dest: Path, busy_timeout_ms: int = 5000) -> None:
    """Copy a live SQLite database consistently (the backup API; writers may go on)."""
    src = sqlite3.connect(source, timeout=busy_timeout_ms / 1000)
    try:
        dst = sqlite3.connect(dest)
        try:
            src.backup(dst)
            # A self-contained single file: no -wal beside it to forget.
            dst.execute("PRAGMA journal_mode=DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _referenced_keys(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT storage_key FROM files WHERE status IN ('ready', 'removed') "
            "AND purged_at IS NULL"
        ).fetchall()
        parts = con.execute("SELECT storage_key FROM upload_parts").fetchall()
    finally:
        con.close()
    return {r[0] for r in rows} | {r[0] for r in parts}


def _counts(db: Path) -> dict[str, int]:
    con = sqlite3.connect(db)
    try:
        one = lambda sql: con.execute(sql).fetchone()[0]  # noqa: E731
        return {
            "users": one("SELECT COUNT(*) FROM users"),
            "files": one("SELECT COUNT(*) FROM files WHERE status = 'ready'"),
            "albums": one("SELECT COUNT(*) FROM albums"),
        }
    finally:
        con.close()


async def _copy_object(storage: Any, key: str, dest: Path) -> dict[str, Any] | None:
    """Stream one object to ``dest``; None when it vanished meanwhile."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    total = 0
    tmp = dest.with_name(dest.name + ".partial")
    try:
        with open(tmp, "wb") as fh:
            async for chunk in storage.open(key):
                fh.write(chunk)
                digest.update(chunk)
                total += len(chunk)
    except ObjectNotFound:
        tmp.unlink(missing_ok=True)
        return None
    os.replace(tmp, dest)
    return {"bytes": total, "sha256": digest.hexdigest()}


def is_tar(path: Path) -> bool:
    """Whether ``path`` names a tar archive rather than a folder."""
    return path.name.endswith(TAR_SUFFIXES)


async def create_backup(
    rt: Runtime,
    dest: Path,
    *,
    config_file: str | None = None,
    on_object: Progress | None = None,
    on_total: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Write a backup of the running appliance to ``dest`` (a new folder, or a
    ``.tar``/``.tar.gz`` file); return the manifest."""
    settings = rt.settings
    db = sqlite_path(settings)
    if db is None:
        raise BackupError(
            "backup covers SQLite appliances; back up this database with its own tools "
            "(PostgreSQL: pg_dump) and the objects with the store's (S3: versioning, rclone)"
        )
    dest = Path(dest).expanduser().resolve()
    if dest.exists() and (dest.is_file() or any(dest.iterdir())):
        raise BackupError(f"{dest} already exists and is not empty; choose a new name")
    if dest.is_relative_to(settings.storage_path):
        raise BackupError(f"{dest} is inside the storage folder; write the backup elsewhere")
    tar = is_tar(dest)
    if tar:
        dest.parent.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(prefix=".pichr-backup-", dir=dest.parent))
    else:
        folder = dest
        folder.mkdir(parents=True, exist_ok=True)
        os.chmod(folder, 0o700)  # secret.key and the database are inside
    try:
        manifest = await _fill(rt, folder, db, config_file, on_object, on_total)
        if tar:
            mode = "w:gz" if dest.name.endswith(("gz", "tgz")) else "w"
            partial = dest.with_name(dest.name + ".partial")
            # It holds secret.key and the database: 0600 under any umask.
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.fchmod(fd, 0o600)
            os.close(fd)
            with tarfile.open(partial, mode) as archive:
                for path in sorted(folder.rglob("*")):
                    archive.add(path, arcname=path.relative_to(folder).as_posix(), recursive=False)
            os.replace(partial, dest)
    finally:
        if tar:
            shutil.rmtree(folder, ignore_errors=True)
    return manifest


async def _fill(
    rt: Runtime,
    folder: Path,
    db: Path,
    config_file: str | None,
    on_object: Progress | None,
    on_total: Callable[[int], None] | None,
) -> dict[str, Any]:
    storage = rt.storage
    objects: dict[str, dict[str, Any]] = {}
    keys = [key async for key in storage.list_keys("")]
    if on_total:
        on_total(len(keys))
    for key in keys:
        info = await _copy_object(storage, key, folder / OBJECTS / key)
        if info is not None:
            objects[key] = info
        if on_object:
            on_object(1)
    snapshot_database(db, folder / DATABASE, rt.settings.database.busy_timeout_ms)
    missing = []
    for key in sorted(_referenced_keys(folder / DATABASE) - set(objects)):
        info = await _copy_object(storage, key, folder / OBJECTS / key)
        if info is None:
            missing.append(key)  # deleted since the snapshot: gc reports it after a restore
        else:
            objects[key] = info
    files: dict[str, dict[str, Any]] = {}
    size, sha = file_size_and_sha256(folder / DATABASE)
    files[DATABASE] = {"bytes": size, "sha256": sha}
    for name in EXTRA_FILES:
        source = rt.settings.data_path / name
        if source.is_file():
            shutil.copyfile(source, folder / name)
            size, sha = file_size_and_sha256(folder / name)
            files[name] = {"bytes": size, "sha256": sha}
    if config_file:
        shutil.copyfile(Path(config_file).expanduser(), folder / "config.toml")
        size, sha = file_size_and_sha256(folder / "config.toml")
        files["config.toml"] = {"bytes": size, "sha256": sha}
    manifest = {
        "format": FORMAT,
        "formatVersion": FORMAT_VERSION,
        "appVersion": __version__,
        "createdAt": iso(utcnow()),
        "counts": {
            **_counts(folder / DATABASE),
            "objects": len(objects),
            "objectBytes": sum(o["bytes"] for o in objects.values()),
        },
        "files": files,
        "objects": objects,
        "missing": missing,
    }
    tmp = folder / (MANIFEST + ".partial")
    tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True))
    os.replace(tmp, folder / MANIFEST)
    return manifest


@contextlib.contextmanager
def opened_backup(source: Path) -> Iterator[Path]:
    """The backup at ``source`` as a folder (a tar archive is unpacked meanwhile)."""
    source = Path(source).expanduser().resolve()
    if source.is_dir():
        yield source
        return
    if not source.is_file():
        raise BackupError(f"{source}: no such backup")
    with tempfile.TemporaryDirectory(prefix=".pichr-restore-", dir=source.parent) as tmp:
        try:
            with tarfile.open(source) as archive:
                archive.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError) as exc:
            raise BackupError(f"{source}: not a readable backup archive ({exc})") from None
        yield Path(tmp)


def read_manifest(folder: Path) -> dict[str, Any]:
    """The manifest of a backup folder; BackupError when it is missing or foreign."""
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except FileNotFoundError:
        raise BackupError(
            f"{folder} has no {MANIFEST}: not a backup, or one that did not finish"
        ) from None
    except ValueError:
        raise BackupError(f"{folder / MANIFEST} is damaged") from None
    if manifest.get("format") != FORMAT:
        raise BackupError(f"{folder} is not a pichr-appliance backup")
    if manifest.get("formatVersion", 0) > FORMAT_VERSION:
        raise BackupError(
            f"this backup has format {manifest['formatVersion']}; upgrade pichr-appliance "
            f"(this version reads up to {FORMAT_VERSION})"
        )
    return manifest


def verify(folder: Path, manifest: dict[str, Any], on_object: Progress | None = None) -> None:
    """Check the size and sha256 of every file of the backup; BackupError lists damage."""
    problems = []
    expected = [(folder / name, info, name) for name, info in manifest["files"].items()]
    expected += [
        (folder / OBJECTS / key, info, f"{OBJECTS}/{key}")
        for key, info in manifest["objects"].items()
    ]
    for path, info, label in expected:
        try:
            size, sha = file_size_and_sha256(path)
        except FileNotFoundError:
            problems.append(f"{label} is missing")
        else:
            if size != info["bytes"] or sha != info["sha256"]:
                problems.append(f"{label} does not match its checksum")
        if on_object and label.startswith(OBJECTS + "/"):
            on_object(1)
    if problems:
        shown = "; ".join(problems[:5]) + (f" (and {len(problems) - 5} more)" * (len(problems) > 5))
        raise BackupError(f"the backup is damaged: {shown}")


def target_in_use(settings: Any) -> list[str]:
    """What already lives where a restore would write (empty: safe to restore)."""
    found = []
    data = settings.data_path
    if data.is_dir() and any(data.iterdir()):
        found.append(str(data))
    storage = settings.storage_path
    if (
        settings.storage.backend == "local"
        and storage.is_dir()
        and not storage.is_relative_to(data)
        and any(p for p in storage.rglob("*") if p.is_file() and ".tmp" not in p.parts)
    ):
        found.append(str(storage))
    return found


def place_files(settings: Any, folder: Path, manifest: dict[str, Any], force: bool) -> list[str]:
    """Put the database and the data-directory files of a verified backup in place;
    return notes for the operator. Run before the database is opened."""
    db = sqlite_path(settings)
    if db is None:
        raise BackupError("restore writes a SQLite database; database.url names another kind")
    notes = []
    data = settings.data_path
    data.mkdir(mode=0o700, parents=True, exist_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    if force:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{db}{suffix}").unlink(missing_ok=True)
    tmp = db.with_name(db.name + ".restoring")
    shutil.copyfile(folder / DATABASE, tmp)
    os.chmod(tmp, 0o600)
    os.replace(tmp, db)
    for name in EXTRA_FILES:
        if name in manifest["files"]:
            shutil.copyfile(folder / name, data / name)
            if name.endswith(".key"):
                os.chmod(data / name, 0o600)
    if "config.toml" in manifest["files"]:
        target = data / "config.toml"
        if target.exists() and not force:
            target = data / "config.from-backup.toml"
        shutil.copyfile(folder / "config.toml", target)
        notes.append(f"the backup's configuration is in {target}: start with --config {target}")
    return notes


async def restore_objects(
    rt: Runtime, folder: Path, manifest: dict[str, Any], on_object: Progress | None = None
) -> int:
    """Store every object of the backup through the configured storage backend."""
    count = 0
    for key in manifest["objects"]:
        await rt.storage.put_file(key, folder / OBJECTS / key)
        count += 1
        if on_object:
            on_object(1)
    return count
