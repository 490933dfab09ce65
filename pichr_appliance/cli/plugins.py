"""``pichr-appliance plugins``: what is installed and active."""

from __future__ import annotations

import click

from .common import common_options, config_errors, emit, settings_from


@click.command("plugins")
@common_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def plugins_command(ctx: click.Context, as_json: bool) -> None:
    """List installed plugins, their versions and hooks, and the active backends."""
    from ..plugins import describe_runtime
    from ..runtime import build_runtime

    with config_errors():
        info = describe_runtime(build_runtime(settings_from(ctx)))
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
