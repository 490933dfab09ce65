"""The ``pichr-appliance`` command line (click). Commands call the services directly."""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import multiprocessing
import sys
from collections.abc import Callable, Coroutine
from typing import Any

import click

from . import __version__
from .config import ConfigError, Settings, ensure_data_dir, load_settings, masked
from .errors import ApiError

log = logging.getLogger("pichr_appliance")


class State:
    """Options collected from the group and the subcommand (the subcommand wins)."""

    def __init__(self) -> None:
        self.data_dir: str | None = None
        self.config: str | None = None
        self.overrides: list[str] = []
        self._settings: Settings | None = None

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(
                config_file=self.config, data_dir=self.data_dir, overrides=self.overrides
            )
        return self._settings


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    state = ctx.ensure_object(State)
    if param.name == "data_dir" and value is not None:
        state.data_dir = value
    elif param.name == "config" and value is not None:
        state.config = value
    elif param.name == "setting" and value:
        state.overrides.extend(value)
    return value


def common_options(fn: Callable) -> Callable:
    """``--data-dir``, ``--config`` and ``-s section.key=value`` on every command."""
    options = [
        click.option(
            "--data-dir",
            type=click.Path(file_okay=False),
            envvar="PICHR_DATA_DIR",
            expose_value=False,
            callback=_remember,
            is_eager=True,
            help="Data directory (default ./pichr-data).",
        ),
        click.option(
            "--config",
            type=click.Path(dir_okay=False),
            envvar="PICHR_CONFIG",
            expose_value=False,
            callback=_remember,
            is_eager=True,
            help="TOML configuration file.",
        ),
        click.option(
            "-s",
            "--setting",
            multiple=True,
            expose_value=False,
            callback=_remember,
            is_eager=True,
            metavar="SECTION.KEY=VALUE",
            help="Override a setting (repeatable).",
        ),
    ]
    for option in reversed(options):
        fn = option(fn)
    return fn


def settings_from(ctx: click.Context) -> Settings:
    try:
        return ctx.ensure_object(State).settings()
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def run_with_db(settings: Settings, fn: Callable[..., Coroutine[Any, Any, Any]]) -> Any:
    """Run ``fn(runtime)`` with the database migrated and open and storage started;
    service errors become one-line CLI errors."""
    from .runtime import open_runtime

    async def main() -> Any:
        async with open_runtime(settings) as rt:
            return await fn(rt)

    try:
        return asyncio.run(main())
    except ApiError as exc:
        raise click.ClickException(exc.message) from None
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(text if text is not None else json.dumps(data, indent=2))


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pichr-appliance")
@common_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """pichr-appliance: a self-hosted image host that speaks the Pichr API."""
    ctx.ensure_object(State)


@cli.command()
@common_options
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8787).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, help="Worker processes.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, workers: int | None) -> None:
    """Run the HTTP server (migrations are applied first)."""
    from sanic import Sanic
    from sanic.worker.loader import AppLoader

    from .app import create_app
    from .db import run_migrations
    from .plugins import get_plugin_manager
    from .runtime import check_storage

    settings = settings_from(ctx)
    if host is not None:
        settings.server.host = host
    if port is not None:
        settings.server.port = port
    if workers is not None:
        settings.server.workers = workers
    from .app import LOG_FORMAT

    logging.basicConfig(level=settings.server.log_level.upper(), format=LOG_FORMAT)
    logging.getLogger("sanic").propagate = False  # Sanic prints its own lines already
    try:
        ensure_data_dir(settings)
        pm = get_plugin_manager(settings)
        asyncio.run(run_migrations(settings, pm))
        asyncio.run(check_storage(settings, pm))
        loader = AppLoader(factory=functools.partial(create_app, settings))
        app = loader.load()
        asyncio.run(_preflight(app))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    app.prepare(
        host=settings.server.host,
        port=settings.server.port,
        workers=settings.server.workers,
        motd=False,
        access_log=False,
        single_process=False,
    )
    click.echo(
        f"pichr-appliance {__version__} serving {settings.public_url} "
        f"(listening on {settings.server.host}:{settings.server.port}, "
        f"{settings.server.workers} worker(s), data in {settings.data_path}, "
        f"storage {settings.storage.backend}, database {settings.database_url.split(':')[0]})"
    )
    sys.stdout.flush()
    Sanic.serve(primary=app, app_loader=loader)


async def _preflight(app: Any) -> None:
    """Open and close what the workers will need, so that a wrong setting stops
    ``serve`` with one line here instead of a traceback in every worker."""
    store = app.ctx.rate_limiter.store
    await store.startup()
    await store.shutdown()


@cli.command()
@common_options
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply pending database migrations."""
    from .db import run_migrations
    from .plugins import get_plugin_manager

    settings = settings_from(ctx)
    try:
        ensure_data_dir(settings)
        asyncio.run(run_migrations(settings, get_plugin_manager(settings)))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo("migrations applied")


@cli.group("config")
def config_group() -> None:
    """Inspect the configuration."""


@config_group.command("show")
@common_options
@click.pass_context
def config_show(ctx: click.Context) -> None:
    """Print the effective settings as JSON, secrets masked."""
    click.echo(json.dumps(masked(settings_from(ctx)), indent=2))


from .cli_moderation import moderate, stats  # noqa: E402
from .cli_users import user  # noqa: E402  (the user command group lives in its own module)


@cli.command("plugins")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins, their versions and hooks, and the active backends."""
    from .plugins import describe_runtime
    from .runtime import build_runtime

    try:
        info = describe_runtime(build_runtime(settings_from(ctx)))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None
    lines = [
        f"{p['name']} {p['version'] or '-'}: {', '.join(p['hooks']) or '(no hooks)'}"
        for p in info["plugins"]
    ]
    active = info["active"]
    lines.append(
        f"active: storage={active['storage']} rate_limits={active['rateLimitStore']} "
        f"database={active['database']} classifiers={','.join(active['classifiers']) or '-'}"
    )
    lines += [
        f"route: {', '.join(r['methods'])} {r['path']} ({r['plugin']})" for r in info["routes"]
    ]
    emit(info, as_json, "\n".join(lines))


cli.add_command(user)
cli.add_command(moderate)
cli.add_command(stats)
from .cli_ops import OPS_COMMANDS  # noqa: E402  (backup, restore, import, gc, doctor, ...)

for command in OPS_COMMANDS:
    cli.add_command(command)


def _load_plugin_commands() -> None:
    """Let plugins add commands; a bad configuration must not break ``--help``."""
    try:
        from .plugins import get_plugin_manager

        settings = load_settings()
        get_plugin_manager(settings).hook.register_commands(cli=cli)
    except Exception as exc:  # pragma: no cover - reported, never fatal for the CLI
        log.debug("plugin commands not loaded: %s", exc)


def main() -> None:
    """Console-script entry point."""
    multiprocessing.freeze_support()
    _load_plugin_commands()
    cli(prog_name="pichr-appliance")
