"""akool status: where jobs are, in one request."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from akool_cli.app import app, guarded
from akool_cli.context import App

RECENT = 10


@app.command(rich_help_panel="Videos")
@guarded
def status(
    ctx: typer.Context,
    ids: Annotated[Optional[List[str]], typer.Argument(metavar="[ID...]", help="Job ids; default: your recent jobs from the history.")] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait until every job completes or fails.")] = False,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="PATH|DIR", help="Download completed videos here; implies --wait.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files with -o.")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", metavar="SECONDS", min=1, help="Give up waiting after this long.")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="Print job objects as JSON on stdout.")] = False,
) -> None:
    """Show the status of jobs (one request for all ids); --wait to follow them."""
    from akool_cli.errors import UsageError
    from akool_cli.validation import check_ids, check_timeout
    from akool_cli.workflow import OutputTarget, check_final, download_jobs, emit_jobs, wait_jobs

    state: App = ctx.obj
    check_timeout(timeout)
    wanted = check_ids(ids or [])
    if not wanted:
        recent = state.history().recent(RECENT, base_url=state.base_url, include_deleted=False)
        wanted = [entry.id for entry in recent]
        if not wanted:
            raise UsageError("no job ids given and no jobs in the history for " + state.base_url,
                             hint="pass job ids: akool status ID...")
    target = OutputTarget.parse(output, len(wanted), force) if output else None
    if wait or target:
        latest = wait_jobs(state, wanted, timeout)
    else:
        jobs = state.client().results(wanted)
        state.history().update_from_jobs(jobs)
        latest = {job.id: job for job in jobs}
    missing = [i for i in wanted if i not in latest]
    for job_id in missing:
        state.renderer.warn(f"job {job_id} was not found (deleted, or made with other credentials)")
    jobs = [latest[i] for i in wanted if i in latest]
    saved = download_jobs(state, jobs, target) if target else {}
    emit_jobs(state, jobs, json_out=json_out, quiet=False, single=False, saved=saved)
    if wait or target:
        check_final(jobs)
    if missing and not jobs:
        raise UsageError(f"none of the {len(missing)} job(s) were found", hint="check the ids: akool history")
