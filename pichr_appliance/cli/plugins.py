"""Plugins on the command line: the ``plugins`` command, and the root group that adds
the commands plugins register (``register_commands``) to the built-in ones."""

from __future__ import annotations

import logging

import click

from .common import State, common_options, config_errors, emit, plugin_manager, settings_from

log = logging.getLogger("pichr_appliance")

_ARGS = "pichr_appliance.cli.args"  # ctx.meta: the arguments after the command name
_FOUND = "pichr_appliance.cli.plugin_commands"  # ctx.meta: commands found, by arguments


class PluginCommandsGroup(click.Group):
    """The root group: the built-in commands, and those of the enabled plugins.

    Which plugins are enabled depends on the settings the command line names (``--config``,
    ``--data-dir``, ``-s``, ``PICHR_*``), but click needs the command before it parses
    that command's options. A pre-scan of ``sys.argv`` in ``main()`` would miss every
    caller that is not ``main()`` (CliRunner in tests, the group embedded elsewhere) and
    would have to re-implement click's option syntax. This lazy group instead runs when
    click resolves the command name (click 8: ``resolve_command`` then ``get_command``):
    by then click has parsed the group's own options into :class:`State`, and
    ``resolve_command`` sees the arguments after the name, from which the common options
    are parsed by click itself (the very options of :func:`common_options`, so
    ``--config=FILE``, ``-sKEY=VALUE`` and the environment behave as in the command).

    Built-in commands win and are found without loading any plugin (``serve`` builds one
    plugin manager, in its app); a plugin command with a built-in name is ignored.
    """

    def resolve_command(
        self, ctx: click.Context, args: list[str]
    ) -> tuple[str | None, click.Command | None, list[str]]:
        ctx.meta[_ARGS] = tuple(args[1:])
        return super().resolve_command(ctx, args)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        builtin = super().get_command(ctx, cmd_name)
        if builtin is not None:
            return builtin
        return self.plugin_commands(ctx).get(cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.plugin_commands(ctx)})

    def builtin_names(self) -> set[str]:
        """The names plugin commands may not take: the built-in commands'."""
        return set(self.commands)

    def plugin_commands(self, ctx: click.Context) -> dict[str, click.Command]:
        """The plugins' commands under the settings of this command line (once each)."""
        args = ctx.meta.get(_ARGS, ())
        found = ctx.meta.setdefault(_FOUND, {})
        if args not in found:
            found[args] = self._discover(_options(ctx, args))
        return found[args]

    def _discover(self, state: State) -> dict[str, click.Command]:
        """Call ``register_commands`` on a scratch group: nothing leaks into this one.
        A bad configuration or plugin must not break ``--help`` (or ``doctor``): the
        command that needs the settings reports the problem itself."""
        scratch = click.Group("pichr-appliance")
        try:
            plugin_manager(state.settings()).hook.register_commands(cli=scratch)
        except Exception as exc:  # reported, never fatal for the CLI
            log.debug("plugin commands not loaded: %s", exc)
        commands = {}
        for name, command in scratch.commands.items():
            if name in self.builtin_names():
                log.warning("plugin command %r ignored: a built-in command has that name", name)
            else:
                commands[name] = command
        return commands


def _options(ctx: click.Context, args: tuple[str, ...]) -> State:
    """The group's common options, updated by those among ``args`` as the command's own
    :func:`common_options` will be (the command's win; unknown options are skipped)."""
    state = ctx.ensure_object(State).copy()
    scanner = common_options(
        click.Command(
            "scan",
            add_help_option=False,
            context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
        )
    )
    try:
        scanner.make_context("scan", list(args), obj=state)
    except click.ClickException as exc:  # the command will say what is wrong
        log.debug("command line options not understood: %s", exc)
    return state


@click.command("plugins")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins, their versions and hooks, and the active backends."""
    from ..plugins import describe_runtime
    from ..runtime import build_runtime

    with config_errors():
        settings = settings_from(ctx)
        info = describe_runtime(build_runtime(settings, pm=plugin_manager(settings)))
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
