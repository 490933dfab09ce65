"""What every command shares: the common options and the settings they name, running
work with the database open, output, and who the operator is.

This module imports nothing from the command modules, so they can all import it.
Plugin commands use it too (``pichr_appliance.cli`` re-exports the helpers).
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import json
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import click

from ..config import ConfigError, Settings, load_settings
from ..errors import ApiError


class State:
    """Options collected from the group and the subcommand (the subcommand wins)."""

    def __init__(self) -> None:
        self.data_dir: str | None = None
        self.config: str | None = None
        self.overrides: list[str] = []
        self._settings: Settings | None = None

    def remember(self, name: str | None, value: Any) -> None:
        """Record one common option's value (as :func:`common_options` parses it)."""
        if name == "data_dir" and value is not None:
            self.data_dir = value
        elif name == "config" and value is not None:
            self.config = value
        elif name == "setting" and value:
            self.overrides.extend(value)

    def copy(self) -> State:
        """The same options, without the settings loaded from them."""
        other = State()
        other.data_dir, other.config = self.data_dir, self.config
        other.overrides = list(self.overrides)
        return other

    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_settings(
                config_file=self.config, data_dir=self.data_dir, overrides=self.overrides
            )
        return self._settings


def _remember(ctx: click.Context, param: click.Parameter, value: Any) -> Any:
    ctx.ensure_object(State).remember(param.name, value)
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


@contextlib.contextmanager
def config_errors() -> Iterator[None]:
    """A configuration error becomes a one-line CLI error."""
    try:
        yield
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def settings_from(ctx: click.Context) -> Settings:
    with config_errors():
        return ctx.ensure_object(State).settings()


PLUGIN_MANAGERS = "pichr_appliance.plugin_managers"


def plugin_manager(settings: Settings) -> Any:
    """The plugin manager of this command-line run for ``settings``.

    Kept in click's ``ctx.meta``, which every context of one invocation shares, so that
    finding plugin commands and running the command use one manager; a later
    invocation in the same process (tests) builds its own.
    """
    from ..plugins import get_plugin_manager

    ctx = click.get_current_context(silent=True)
    known: list[tuple[Settings, Any]] = ctx.meta.setdefault(PLUGIN_MANAGERS, []) if ctx else []
    for seen, pm in known:
        if seen == settings:
            return pm
    pm = get_plugin_manager(settings)
    known.append((settings, pm))
    return pm


def run_with_db(settings: Settings, fn: Callable[..., Coroutine[Any, Any, Any]]) -> Any:
    """Run ``fn(runtime)`` with the database migrated and open and storage started;
    service errors become one-line CLI errors."""
    from ..runtime import open_runtime

    async def main() -> Any:
        async with open_runtime(settings, pm=plugin_manager(settings)) as rt:
            return await fn(rt)

    try:
        with config_errors():
            return asyncio.run(main())
    except ApiError as exc:
        raise click.ClickException(exc.message) from None


def emit(data: Any, as_json: bool, text: str | None = None) -> None:
    if as_json:
        click.echo(json.dumps(data, indent=2))
    else:
        click.echo(text if text is not None else json.dumps(data, indent=2))


def operator_name() -> str:
    """The person at the shell, for the audit log."""
    try:
        return getpass.getuser()
    except Exception:  # no login name (containers): still say it came from the CLI
        return "operator"


def operator_option(fn: Callable) -> Callable:
    """``--operator NAME``: who is acting (default: the login name)."""
    return click.option(
        "--operator",
        default=None,
        help="Name recorded in the audit log (default: your login name).",
    )(fn)
