"""akool history: every job this machine created, with its expiry."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from akool_cli.api.models import RESOURCE_TTL_TEXT
from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, ListingJsonOption

STATUS_CHOICES = ("queueing", "processing", "completed", "failed")


command_app = typer.Typer()


@command_app.command("history")
@guarded
def history_command(
    ctx: typer.Context,
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=10**9, help="Show at most this many jobs.")] = 20,
    status: Annotated[Optional[List[str]], typer.Option("--status", "-s", metavar="STATUS", help="Only jobs with this status (queueing, processing, completed, failed; repeatable).")] = None,
    prune: Annotated[bool, typer.Option("--prune", help=f"Drop entries whose remote files have expired ({RESOURCE_TTL_TEXT}).")] = False,
    fmt: FormatOption = None,
    json_out: ListingJsonOption = False,
) -> None:
    """The local record of jobs: ids, cost, status, downloaded file, time left before expiry."""
    from akool_cli.api.models import status_from_name
    from akool_cli.core.errors import UsageError
    from akool_cli.options import FORMATS, NO_IDS, resolve_format
    from akool_cli.output.views import history_view
    from akool_cli.output.writers import record_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS if prune else FORMATS)
    wanted = []
    for name in status or []:
        if name.lower() not in STATUS_CHOICES:
            raise UsageError(f"unknown status '{name}'", hint="use one of " + ", ".join(STATUS_CHOICES))
        wanted.append(status_from_name(name.lower()))
    history = state.history()
    if prune:
        removed = history.prune_expired()
        state.renderer.info(f"pruned {removed} expired entr{'y' if removed == 1 else 'ies'}")
        if fmt or json_out:  # asked for a format: the count as one record (people had the line above)
            state.renderer.show(record_view({"pruned": removed}), form)
        return
    now = state.runtime.clock()
    expiring = history.unsaved(state.base_url, now, 24)
    if expiring:
        state.renderer.warn(f"{len(expiring)} paid job(s) with no saved file expire within 24 h; save them with: "
                            + state.command("download", "--unsaved", "--expiring-within", "24", "-o", "videos/"))
    if form == "table":
        entries = history.recent(limit, wanted)
        state.renderer.show(history_view(lambda: entries, now, len(entries)), form)
    else:  # streamed from SQLite: constant memory however long the history
        state.renderer.show(history_view(lambda: history.iter_recent(limit, wanted), now), form)
