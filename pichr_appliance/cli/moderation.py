"""``pichr-appliance moderate ...`` and ``stats``: the moderation and admin services from
the shell, recorded in the same audit log as the API with the operator as the actor."""

from __future__ import annotations

import click

from .common import common_options, emit, operator_name, operator_option, run_with_db, settings_from


@click.group()
def moderate() -> None:
    """Review reports and decide them (as the API's moderation queue)."""


@moderate.command("list")
@common_options
@click.option(
    "--status", type=click.Choice(["open", "resolved", "all"]), default="open", show_default=True
)
@click.option("--limit", type=click.IntRange(1, 10000), default=100)
@click.option("--offset", type=click.IntRange(0), default=0)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def list_(ctx, status, limit, offset, as_json):
    """The queue: reports grouped by target, oldest first."""
    from ..services import moderation

    settings = settings_from(ctx)

    async def go(rt):
        items, total = await moderation.queue(rt, status=status, limit=limit, offset=offset)
        return {"queue": items, "total": total}

    data = run_with_db(settings, go)
    if as_json:
        emit(data, True)
        return
    for group in data["queue"]:
        target = group["target"] or {}
        owner = (target.get("owner") or {}).get("username", "-")
        reasons = ", ".join(f"{k}x{v}" for k, v in group["reasons"].items())
        flags = [w for w in ("held",) if target.get("held")]
        if target.get("status") == "removed" or target.get("removed"):
            flags.append("removed")
        if not group["target"]:
            flags.append("deleted")
        click.echo(
            f"{group['targetType']} {group['targetId']}  owner {owner}  "
            f"{group['reportCount']} report(s): {reasons}  since {group['firstReportedAt']}"
            + (f"  [{' '.join(flags)}]" if flags else "")
        )
        for report in group["reports"]:
            click.echo(
                f"  {report['id']}  {report['status']}  {report['reason']}"
                + (f"  -> {report['action']}" if report["action"] else "")
                + (f"  {report['details']}" if report["details"] else "")
            )
    click.echo(f"{data['total']} target(s)")


@moderate.command("show")
@common_options
@click.argument("report_id")
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def show(ctx, report_id, as_json):
    """A report with its target and every report on the same target."""
    from ..services import moderation

    settings = settings_from(ctx)

    async def go(rt):
        return await moderation.show(rt, report_id)

    data = run_with_db(settings, go)
    if as_json:
        emit(data, True)
        return
    target = data["target"]
    click.echo(f"report {data['id']}: {data['status']}, reason {data['reason']}")
    if data["details"]:
        click.echo(f"details: {data['details']}")
    if data["action"]:
        click.echo(f"decided: {data['action']} by {data['resolvedBy']} at {data['resolvedAt']}")
    if target is None:
        click.echo(f"target: {data['targetType']} {data['targetId']} (deleted)")
    else:
        owner = (target.get("owner") or {}).get("username", "-")
        state = target.get("status", "removed" if target.get("removed") else "")
        click.echo(
            f"target: {data['targetType']} {data['targetId']} ({state}"
            + (", held" if target.get("held") else "")
            + f"), owner {owner}, url {target['url']}"
        )
    click.echo(f"reports on this target: {len(data['reports'])}")
    for report in data["reports"]:
        click.echo(
            f"  {report['id']}  {report['status']}  {report['reason']}  {report['createdAt']}"
        )


@moderate.command("resolve")
@common_options
@click.argument("report_id")
@click.option(
    "--action",
    required=True,
    type=click.Choice(["remove", "dismiss", "age_restrict", "restore"]),
)
@click.option("--note", default="", help="Why (kept in the audit log).")
@click.option("--ban", is_flag=True, help="Also disable the owner's account.")
@operator_option
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def resolve(ctx, report_id, action, note, ban, operator, as_json):
    """Decide a report; every open report on the same target is closed with it."""
    from ..services import moderation
    from ..services.audit import Operator

    settings = settings_from(ctx)
    who = Operator.cli(operator or operator_name())

    async def go(rt):
        report = await moderation.resolve(rt, who, report_id, action, note, ban)
        return moderation.report_json(report)

    data = run_with_db(settings, go)
    emit(
        data,
        as_json,
        f"{data['id']} resolved: {data['action']} on {data['targetType']} {data['targetId']}"
        + (" (owner banned)" if ban else "")
        + f", recorded as {who.label}",
    )


@moderate.command("audit")
@common_options
@click.option("--target", "target_id", default=None, help="Only entries about this id.")
@click.option("--limit", type=click.IntRange(1, 10000), default=50)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def audit_log(ctx, target_id, limit, as_json):
    """The audit log, newest first."""
    from ..services import audit

    settings = settings_from(ctx)

    async def go(rt):
        entries, total = await audit.list_entries(limit=limit, offset=0, target_id=target_id)
        return {"entries": [audit.entry_json(e) for e in entries], "total": total}

    data = run_with_db(settings, go)
    if as_json:
        emit(data, True)
        return
    for e in data["entries"]:
        target = f"{e['targetType']} {e['targetId']}" if e["targetId"] else "-"
        note = f'  "{e["note"]}"' if e["note"] else ""
        click.echo(f"{e['createdAt']}  {e['actor']}  {e['action']}  {target}{note}")


@click.command()
@common_options
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def stats(ctx, as_json):
    """Site figures: accounts, files, stored bytes, albums, open reports."""
    from ..services import admin

    settings = settings_from(ctx)

    async def go(rt):
        return await admin.stats()

    data = run_with_db(settings, go)
    emit(data, as_json, "\n".join(f"{k}: {v}" for k, v in data.items()))
