"""akool sync: refresh the history from the service and save what would otherwise expire."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, ListingJsonOption

command_app = typer.Typer()


@command_app.command("sync")
@guarded
def sync_command(
    ctx: typer.Context,
    save: Annotated[bool, typer.Option("--save", help="Save every completed, unsaved video (to -o).")] = False,
    output: Annotated[str, typer.Option("--output", "-o", metavar="DIR|TEMPLATE", help="Where --save puts videos, e.g. 'videos/' or 'videos/{date}-{id}.mp4'.")] = "videos/",
    expiring_within: Annotated[float, typer.Option("--expiring-within", metavar="HOURS", min=0, max=24 * 7, help="Exit 15 when a completed video expires within this many hours and is not saved.")] = 24.0,
    force: Annotated[bool, typer.Option("--force", help="With --save: overwrite existing files.")] = False,
    fmt: FormatOption = None,
    json_out: ListingJsonOption = False,
) -> None:
    """Refresh the history from the service; --save saves completed videos before they expire.

    Asks about every unfinished job of the history (one request per 500 ids), records the answers, and
    lists the completed videos not saved yet. For cron and CI: exit 15 says one expires within
    --expiring-within hours and is not saved."""
    from akool_cli.commands.steps import download_jobs, emit_jobs
    from akool_cli.core.errors import AkoolError, ExpiringError
    from akool_cli.flows.fetch import OutputTarget
    from akool_cli.flows.sync import sync
    from akool_cli.flows.wait import fetch_jobs
    from akool_cli.options import resolve_format

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    result = sync(state.deps())
    state.renderer.info(f"asked about {len(result.asked)} unfinished job(s); "
                        f"{len(result.unsaved)} completed video(s) not saved")
    # Fresh links for the saves: the jobs this sync just asked about are reused, only the others are asked for.
    answered = {job.id: job for job in result.answered}
    missing = [job_id for job_id in result.unsaved if job_id not in answered]
    fetched = {job.id: job for job in fetch_jobs(state.client(), missing)} if missing else {}
    jobs = [job for job_id in result.unsaved if (job := answered.get(job_id) or fetched.get(job_id))]
    saved: dict[str, Path] = {}
    failure: AkoolError | None = None
    if save and jobs:
        try:
            saved = download_jobs(state, jobs, OutputTarget.parse(output, len(jobs), force))
        except AkoolError as error:  # the ones that were saved are in the history; said at the end
            failure = error
    emit_jobs(state, jobs, fmt=form, saved=saved, title="saved" if save else "not saved yet")
    if failure is not None:
        raise failure
    left = set(state.history().unsaved(state.base_url, state.runtime.clock(), expiring_within))
    if left:
        raise ExpiringError(f"{len(left)} paid video(s) expire within {expiring_within:g} h and are not saved",
                            hint="save them (free) with: " + state.command("sync", "--save", "-o", output))
