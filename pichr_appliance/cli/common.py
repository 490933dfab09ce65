"""What every command shares: the common options and the settings they name, running
work with the database open, output, and who the operator is.

This module imports nothing from the command modules, so they can all import it.
Plugin commands use it too (``pichr_appliance.cli`` re-exports the helpers).
"""

from __future__ import annotations

import contextlib
import getpass
import json
from collections.abc import Callable, Coroutine, Iterator
from typing import TYPE_CHECKING, Any

import click

# The settings (pydantic) and the errors (Sanic) are imported where they are used, not
# here: this module is imported by every command line, `--version` and `--help` too,
# which need neither (see the lazy command table in ``pichr_appliance.cli``).
if TYPE_CHECKING:
    from ..config import Settings


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
        """The settings these options name (loaded once)."""
        from ..config import load_settings

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
    from ..config import ConfigError

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


def data_dir_origin() -> str:
    """Where the data directory setting came from, in words, for error messages."""
    ctx = click.get_current_context(silent=True)
    state = ctx.find_object(State) if ctx else None
    if state is not None and state.data_dir is not None:
        return "--data-dir or PICHR_DATA_DIR"
    if state is not None and state.config is not None:
        return f"the configuration file {state.config}, or the default"
    return "the default: ./pichr-data in the current directory"


def is_data_dir(settings: Settings) -> bool:
    """Whether the data directory of ``settings`` holds an appliance's data (its
    signing secret or its SQLite database), not merely a folder of that name."""
    path = settings.data_path
    return (path / "secret.key").is_file() or (path / "pichr.sqlite3").is_file()


def require_data_dir(settings: Settings) -> None:
    """Refuse to go on with a data directory that ``serve`` never made: a command run
    from another folder would otherwise create an empty ``./pichr-data`` and report
    on it (zero accounts, no files) as if it were the server's. With an explicit
    ``database.url`` the database names the installation, and nothing is refused."""
    if settings.database.url or is_data_dir(settings):
        return
    raise click.ClickException(
        f"no pichr-appliance data directory at {settings.data_path} (from "
        f"{data_dir_origin()}). Point at the server's with --data-dir DIR or "
        "PICHR_DATA_DIR (the systemd unit's is /var/lib/pichr-appliance), or create a "
        "new one with `pichr-appliance migrate --data-dir DIR`."
    )


def run_with_db(
    settings: Settings, fn: Callable[..., Coroutine[Any, Any, Any]], *, create: bool = False
) -> Any:
    """Run ``fn(runtime)`` with the database migrated and open and storage started;
    service errors become one-line CLI errors. Without ``create``, the data directory
    must exist already (:func:`require_data_dir`)."""
    import asyncio

    from ..errors import ApiError
    from ..runtime import open_runtime

    if not create:
        require_data_dir(settings)

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


def password_options(fn: Callable) -> Callable:
    """``--password`` and ``--password-stdin`` (see :func:`resolve_password`)."""
    fn = click.option(
        "--password-stdin",
        "password_stdin",
        is_flag=True,
        help="Read the password from the first line of standard input.",
    )(fn)
    return click.option(
        "--password",
        default=None,
        help="The password (visible in the shell's history; prefer --password-stdin). "
        "Omitted: asked for at a terminal, otherwise generated and printed once.",
    )(fn)


def resolve_password(password: str | None, from_stdin: bool) -> tuple[str, bool]:
    """The password to set and whether it was generated: from standard input, the
    option, a prompt at a terminal, or (no terminal: a script, a container) a new
    random one that the command prints once."""
    import secrets
    import sys

    if from_stdin:
        line = sys.stdin.readline().rstrip("\r\n")
        if not line:
            raise click.ClickException("--password-stdin: standard input held no password")
        return line, False
    if password is not None:
        return password, False
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True), False
    return secrets.token_urlsafe(18), True


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
