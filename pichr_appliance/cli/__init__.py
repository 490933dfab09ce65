"""The ``pichr-appliance`` command line (click). Commands call the services directly.

One module per command group; :mod:`.common` holds what they share and imports none of
them. The helpers plugin commands use (``common_options``, ``settings_from``,
``run_with_db``, ``emit``, ``State``) are re-exported here.

The built-in commands are imported when click looks one up (:data:`COMMANDS`), not
here: importing them all costs about a second (Sanic, Tortoise, pydantic), which
``--version`` and a command that needs none of it should not pay.
"""

from __future__ import annotations

import sys
from importlib import import_module

import click

from .. import __version__
from .common import State, common_options, emit, run_with_db, settings_from
from .plugins import PluginCommandsGroup

__all__ = [
    "COMMANDS",
    "State",
    "cli",
    "common_options",
    "emit",
    "main",
    "run_with_db",
    "settings_from",
]

# Command name -> "module:attribute" under pichr_appliance.cli.
COMMANDS = {
    "serve": "serve:serve",
    "migrate": "serve:migrate",
    "config": "configuration:config_group",
    "plugins": "plugins:plugins_command",
    "user": "users:user",
    "moderate": "moderation:moderate",
    "stats": "moderation:stats",
    "backup": "ops:backup",
    "restore": "ops:restore",
    "import": "ops:import_",
    "gc": "ops:gc",
    "doctor": "ops:doctor",
    "integrations": "ops:integrations",
}


class ApplianceGroup(PluginCommandsGroup):
    """The root group, with the built-in commands imported on first use."""

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        """A built-in command (imported now if it was not yet), else a plugin's."""
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            module, attribute = COMMANDS[cmd_name].split(":")
            self.add_command(getattr(import_module(f".{module}", __name__), attribute), cmd_name)
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        """Every command name, built-in or from a plugin."""
        return sorted({*COMMANDS, *super().list_commands(ctx)})

    def builtin_names(self) -> set[str]:
        """The names plugin commands may not take."""
        return {*COMMANDS, *self.commands}


@click.group(cls=ApplianceGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="pichr-appliance")
@common_options
@click.pass_context
def cli(ctx: click.Context) -> None:
    """pichr-appliance: a self-hosted image host that speaks the Pichr API."""
    from ..config import private_umask

    private_umask()  # what every command writes (database, images, backups) is private
    ctx.ensure_object(State)


def main() -> None:
    """Console-script entry point."""
    if getattr(sys, "frozen", False):  # the binary (packaging/entry.py calls it first too)
        import multiprocessing

        multiprocessing.freeze_support()
    cli(prog_name="pichr-appliance")
