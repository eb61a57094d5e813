"""akool status: where jobs are, in one request."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, ListingJsonOption

RECENT = 10


command_app = typer.Typer()


@command_app.command("status")
@guarded
def status(
    ctx: typer.Context,
    ids: Annotated[Optional[List[str]], typer.Argument(metavar="[ID...]", help="Job ids; default: your recent jobs from the history.")] = None,
    from_file: Annotated[Optional[str], typer.Option("--from-file", metavar="FILE", help="Ids from a file (one a line, or a JSON list); - reads stdin (also: akool status -).")] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait until every job completes or fails.")] = False,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="PATH|DIR", help="Download completed videos here; implies --wait.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files with -o.")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", metavar="SECONDS", min=1, help="Give up waiting after this long.")] = None,
    fmt: FormatOption = None,
    json_out: ListingJsonOption = False,
) -> None:
    """Show the status of jobs (one request for all ids); --wait to follow them."""
    from akool_cli.commands.steps import check_final, download_jobs, emit_jobs, gone_warned, wait_jobs
    from akool_cli.core.errors import NotFoundError, UsageError
    from akool_cli.core.validation import check_ids, check_timeout
    from akool_cli.flows.fetch import OutputTarget
    from akool_cli.options import resolve_format

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    check_timeout(timeout)
    if wait or output:  # a waiting command: --timeout is its whole time (none: wait for the jobs)
        state.limit_time(timeout)
    given = list(ids or [])
    if "-" in given:  # `akool status -`: the ids come on stdin (more than a command line can hold)
        given.remove("-")
        from_file = from_file or "-"
    wanted = check_ids(given)
    if from_file is not None:
        from akool_cli.core.validation import read_ids_file

        read = read_ids_file(from_file, mark="keep", stdin=state.runtime.stdin)  # checked as it is read
        wanted = list(dict.fromkeys(wanted + read)) if wanted else read
        if not wanted:
            raise UsageError(f"no job ids in {'stdin' if from_file == '-' else repr(from_file)}",
                             hint="one id a line, or a JSON list of ids")
    if not wanted:
        recent = state.history().recent(RECENT, base_url=state.base_url, include_deleted=False)
        wanted = [entry.id for entry in recent]
        if not wanted:  # an empty listing, not an error
            emit_jobs(state, [], fmt=form, title=f"no jobs in the history for {state.host} yet; "
                                                  "create one with: akool create IMAGE")
            return
    target = OutputTarget.parse(output, len(wanted), force) if output else None
    if wait or target:
        latest = wait_jobs(state, wanted, timeout)
    else:
        from akool_cli.flows.wait import fetch_jobs

        jobs = fetch_jobs(state.client(), wanted)  # one request per 500 ids (fewer if the service caps them), like the poll loop
        state.history().update_from_jobs(jobs)
        latest = {job.id: job for job in jobs}
    missing = [i for i in wanted if i not in latest]
    for job_id in missing:
        if job_id not in gone_warned(state):
            state.renderer.warn(f"job {job_id} was not found (deleted, or made with other credentials)")
    jobs = [latest[i] for i in wanted if i in latest]
    saved = download_jobs(state, jobs, target) if target else {}
    emit_jobs(state, jobs, fmt=form, saved=saved)
    if missing:
        raise NotFoundError(f"{len(missing)} of {len(wanted)} job(s) are not known to the service: "
                            + ", ".join(missing),
                            hint="deleted, or made with other credentials; your jobs: akool history")
    if wait or target:
        check_final(jobs)
