"""The ``pichr-appliance`` command line (click). Commands call the services directly.

One module per command group; :mod:`.common` holds what they share and imports none of
them. The helpers plugin commands use (``common_options``, ``settings_from``,
``run_with_db``, ``emit``, ``State``) are re-exported here.
"""

from __future__ import annotations

import multiprocessing

import click

from .. import __version__
from ..config import private_umask
from .common import State, common_options, emit, run_with_db, settings_from
from .configuration import config_group
from .moderation import moderate, stats
from .ops import OPS_COMMANDS
from .plugins import PluginCommandsGroup, plugins_command
from .serve import migrate, serve
from .users import user

__all__ = ["State", "cli", "common_options", "emit", "main", "run_with_db", "settings_from"]


@click.group(cls=PluginCommandsGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pichr-appliance")
@common_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """pichr-appliance: a self-hosted image host that speaks the Pichr API."""
    private_umask()  # what every command writes (database, images, backups) is private
    ctx.ensure_object(State)


for command in [
    serve,
    migrate,
    config_group,
    plugins_command,
    user,
    moderate,
    stats,
    *OPS_COMMANDS,
]:
    cli.add_command(command)


def main() -> None:
    """Console-script entry point."""
    multiprocessing.freeze_support()
    cli(prog_name="pichr-appliance")
