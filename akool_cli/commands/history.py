"""akool history: every job this machine created, with its expiry."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from akool_cli.app import app, guarded
from akool_cli.context import App

STATUS_CHOICES = ("queueing", "processing", "completed", "failed")


@app.command("history", rich_help_panel="Videos")
@guarded
def history_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10**9, help="Show at most this many jobs.")] = 20,
    status: Annotated[Optional[List[str]], typer.Option("--status", "-s", metavar="STATUS", help="Only jobs with this status (queueing, processing, completed, failed; repeatable).")] = None,
    prune: Annotated[bool, typer.Option("--prune", help="Drop entries whose remote files have expired (7 days).")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the entries as JSON on stdout.")] = False,
) -> None:
    """The local record of jobs: ids, cost, status, downloaded file, time left before expiry."""
    from akool_cli.errors import UsageError
    from akool_cli.models import status_from_name

    state: App = ctx.obj
    wanted = []
    for name in status or []:
        if name.lower() not in STATUS_CHOICES:
            raise UsageError(f"unknown status '{name}'", hint="use one of " + ", ".join(STATUS_CHOICES))
        wanted.append(status_from_name(name.lower()))
    history = state.history()
    if prune:
        removed = history.prune_expired()
        if json_out:
            state.renderer.json({"pruned": removed})
        else:
            state.renderer.info(f"pruned {removed} expired entr{'y' if removed == 1 else 'ies'}")
        return
    entries = history.recent(limit, wanted)
    if json_out:
        state.renderer.json([entry.to_dict() for entry in entries])
    else:
        state.renderer.history_table(entries)
