"""The operator's toolbox: ``backup``, ``restore``, ``import``, ``gc``, ``doctor`` and
``integrations``. Long work shows a progress bar on a terminal (on stderr, so that
``--json`` output on stdout stays clean)."""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from ..models import VISIBILITIES
from .common import State, common_options, emit, run_with_db, settings_from

if TYPE_CHECKING:
    from ..runtime import Runtime


class Progress:
    """A click progress bar whose length may be learnt late; silent when asked."""

    def __init__(self, label: str, enabled: bool = True) -> None:
        self.label = label
        self.enabled = enabled and sys.stderr.isatty()
        self.bar: Any = None

    def start(self, total: int) -> None:
        """Show the bar for ``total`` items."""
        if self.enabled and total:
            self.bar = click.progressbar(
                length=total, label=self.label, file=sys.stderr, show_pos=True
            )
            self.bar.__enter__()

    def advance(self, n: int = 1) -> None:
        """Count ``n`` more items done."""
        if self.bar is not None:
            self.bar.update(n)

    def finish(self) -> None:
        """Close the bar (a new line follows it)."""
        if self.bar is not None:
            self.bar.__exit__(None, None, None)
            self.bar = None


@contextlib.contextmanager
def progress(label: str, enabled: bool = True) -> Iterator[Progress]:
    """A :class:`Progress` that is closed however the work ends."""
    bar = Progress(label, enabled)
    try:
        yield bar
    finally:
        bar.finish()


# backup / restore --------------------------------------------------------------------


@click.command()
@common_options
@click.argument("dest", type=click.Path(path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the manifest summary as JSON.")
@click.pass_context
def backup(ctx: click.Context, dest: Path, as_json: bool) -> None:
    """Write a consistent backup to DEST (a new folder, or a .tar/.tar.gz file) while
    the server keeps running: database snapshot, stored objects, secret and config."""
    from ..services import backup as backup_service

    settings = settings_from(ctx)
    config_file = ctx.ensure_object(State).config

    async def go(rt: Runtime) -> dict[str, Any]:
        with progress("copying objects", not as_json) as bar:
            return await backup_service.create_backup(
                rt, dest, config_file=config_file, on_object=bar.advance, on_total=bar.start
            )

    try:
        manifest = run_with_db(settings, go)
    except backup_service.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    summary = {
        "path": str(dest.expanduser().resolve()),
        "createdAt": manifest["createdAt"],
        "counts": manifest["counts"],
        "missing": manifest["missing"],
    }
    counts = manifest["counts"]
    text = (
        f"backup written to {summary['path']}: {counts['users']} users, {counts['files']} "
        f"files, {counts['objects']} objects ({counts['objectBytes']} bytes)"
    )
    if manifest["missing"]:
        text += f"\n{len(manifest['missing'])} object(s) were deleted during the backup"
    emit(summary, as_json, text)


@click.command()
@common_options
@click.argument("src", type=click.Path(exists=True, path_type=Path))
@click.option("--force", is_flag=True, help="Restore over an existing data directory.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def restore(ctx: click.Context, src: Path, force: bool, as_json: bool) -> None:
    """Restore the backup SRC into the data directory (which must be empty, unless
    --force). Every checksum is verified before anything is written. Stop the server
    that uses the data directory first."""
    from ..services import backup as backup_service

    settings = settings_from(ctx)
    try:
        with backup_service.opened_backup(src) as folder:
            manifest = backup_service.read_manifest(folder)
            with progress("verifying", not as_json) as bar:
                bar.start(len(manifest["objects"]))
                backup_service.verify(folder, manifest, on_object=bar.advance)
            in_use = backup_service.target_in_use(settings)
            if in_use and not force:
                raise backup_service.BackupError(
                    f"{', '.join(in_use)} is not empty; restore into an empty data directory "
                    "(--data-dir NEW), or pass --force to replace its database"
                )
            notes = backup_service.place_files(settings, folder, manifest, force)

            async def go(rt: Runtime) -> int:
                with progress("restoring objects", not as_json) as bar:
                    bar.start(len(manifest["objects"]))
                    return await backup_service.restore_objects(
                        rt, folder, manifest, on_object=bar.advance
                    )

            objects = run_with_db(settings, go, create=True)
    except backup_service.BackupError as exc:
        raise click.ClickException(str(exc)) from None
    if force:
        notes.append("objects unknown to the backup were kept: 'pichr-appliance gc' removes them")
    data = {
        "dataDir": str(settings.data_path),
        "backupCreatedAt": manifest["createdAt"],
        "counts": manifest["counts"],
        "objects": objects,
        "notes": notes,
    }
    counts = manifest["counts"]
    text = "\n".join(
        [
            f"restored the backup of {manifest['createdAt']} into {settings.data_path}: "
            f"{counts['users']} users, {counts['files']} files, {objects} objects",
            *notes,
        ]
    )
    emit(data, as_json, text)


# import ------------------------------------------------------------------------------


@click.command("import")
@common_options
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--user", "user_ref", default=None, help="Owner (id, email or username).")
@click.option("--album", "album_title", default=None, help="Add the files to this album.")
@click.option("--visibility", type=click.Choice(VISIBILITIES), default="private", show_default=True)
@click.option("--tag", "tags", multiple=True, help="Tag every imported file (repeatable).")
@click.option("--stop-after", type=click.IntRange(1), default=None, hidden=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def import_(
    ctx: click.Context,
    paths: tuple[str, ...],
    user_ref: str | None,
    album_title: str | None,
    visibility: str,
    tags: tuple[str, ...],
    stop_after: int | None,
    as_json: bool,
) -> None:
    """Import image files and folders (recursively) through the upload pipeline.

    Resumable: run the same command again after an interruption and it carries on
    where it stopped, without duplicates. Without --user, the files go to the only
    admin account.
    """
    from ..errors import ApiError
    from ..services import importer

    settings = settings_from(ctx)
    try:
        files = importer.find_images(paths)
    except FileNotFoundError as exc:
        raise click.ClickException(str(exc)) from None

    async def go(rt: Runtime) -> importer.ImportResult:
        user = await _owner(user_ref)
        with progress("importing", not as_json) as bar:
            bar.start(len(files))
            return await importer.run_import(
                rt,
                user,
                files,
                visibility=visibility,
                album_title=album_title,
                tags=list(tags) or None,
                stop_after=stop_after,
                on_file=lambda path, outcome: bar.advance(),
            )

    try:
        result = run_with_db(settings, go)
    except KeyboardInterrupt:
        click.echo("interrupted: run the same command again to resume", err=True)
        sys.exit(130)
    except ApiError as exc:  # pragma: no cover - run_with_db already converts these
        raise click.ClickException(exc.message) from None
    data = result.as_json()
    lines = [
        f"imported {len(result.imported)}, already there {len(result.skipped)}, "
        f"failed {len(result.failed)} (of {result.total} files)"
    ]
    lines += [f"  failed: {f['path']}: {f['error']}" for f in result.failed]
    duplicates = [i for i in result.imported if i["duplicateOf"]]
    if duplicates:
        lines.append(f"  {len(duplicates)} imported file(s) duplicate earlier ones (duplicateOf)")
    if result.interrupted:
        lines.append("stopped early: run the same command again to import the rest")
    emit(data, as_json, "\n".join(lines))
    if result.failed:
        sys.exit(1)


async def _owner(ref: str | None) -> Any:
    from ..errors import bad_request
    from ..models import User
    from ..services import accounts

    if ref:
        return await accounts.get_user(ref)
    admins = await User.filter(role="admin", disabled=False).limit(2)
    if len(admins) != 1:
        raise bad_request("name the owner of the imported files with --user", "owner_required")
    return admins[0]


# gc ----------------------------------------------------------------------------------


@click.command()
@common_options
@click.option("--dry-run", is_flag=True, help="Only report what would be done.")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def gc(ctx: click.Context, dry_run: bool, as_json: bool) -> None:
    """Remove expired files, stale uploads and orphaned objects; report (and mark
    failed) records whose bytes are missing."""
    from ..services import gc as gc_service

    settings = settings_from(ctx)

    async def go(rt: Runtime) -> dict[str, Any]:
        with progress("checking objects", not as_json) as bar:
            return await gc_service.collect(
                rt, dry_run=dry_run, on_total=bar.start, on_object=bar.advance
            )

    report = run_with_db(settings, go)
    emit(report, as_json, gc_service.describe(report))


# doctor ------------------------------------------------------------------------------


@click.command()
@common_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def doctor(ctx: click.Context, as_json: bool) -> None:
    """Check the configuration, the data directory, free disk, the database and the
    plugins, and say what to fix. Exit status 1 when something must be fixed."""
    from ..services import doctor as doctor_service

    try:
        settings = ctx.ensure_object(State).settings()
    except Exception as exc:
        checks = [doctor_service.Check("config", "fail", str(exc), "fix the setting it names")]
    else:
        checks = asyncio.run(doctor_service.run_checks(settings))
    data = doctor_service.as_json(checks)
    marks = {"ok": "ok  ", "warn": "WARN", "fail": "FAIL"}
    lines = []
    for c in checks:
        lines.append(f"[{marks[c.status]}] {c.name}: {c.message}")
        if c.fix:
            lines.append(f"       fix: {c.fix}")
    lines.append(f"overall: {data['status']}")
    emit(data, as_json, "\n".join(lines))
    if data["status"] == "fail":
        sys.exit(1)


# integrations ------------------------------------------------------------------------


@click.group()
def integrations() -> None:
    """Configuration for uploader tools (ShareX, ...)."""


@integrations.command("sharex")
@common_options
@click.option("--user", "user_ref", required=True, help="Whose uploads (id, email, username).")
@click.option("--key", "api_key", default=None, help="Use this API key instead of a new one.")
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Write the .sxcu here (default: print it).",
)
@click.pass_context
def sharex(ctx: click.Context, user_ref: str, api_key: str | None, output: Path | None) -> None:
    """A ShareX custom uploader (.sxcu) that uploads as USER with an upload-only API key
    (a new one unless --key is given), for server.public_url, or else the address of
    the server running on this data directory."""
    import json

    from ..services import accounts, running
    from ..services import integrations as integrations_service

    settings = settings_from(ctx)
    base = settings.server.public_url or running.running_url(settings)
    if not base:
        raise click.ClickException(
            "which address do uploads go to? server.public_url is not set and no server "
            f"is running on {settings.data_path}. Set it (-s server.public_url=https://"
            "images.example.com, PICHR_SERVER__PUBLIC_URL, or [server] public_url in the "
            "config file), or start `pichr-appliance serve` first."
        )

    async def go(rt: Runtime) -> str:
        user = await accounts.get_user(user_ref)
        return api_key or await integrations_service.new_upload_key(user)

    secret = run_with_db(settings, go)
    text = json.dumps(integrations_service.sharex_config(settings, secret, base=base), indent=2)
    if output is None:
        click.echo(text)
    else:
        output.write_text(text + "\n")
        output.chmod(0o600)
        click.echo(f"wrote {output}: open it in ShareX (Destinations > Custom uploaders)")


OPS_COMMANDS = [backup, restore, import_, gc, doctor, integrations]
