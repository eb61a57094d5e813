"""akool download: save completed videos (status lookup, then streamed atomic download)."""

from __future__ import annotations

from typing import Annotated, List

import typer

from akool_cli.app import guarded
from akool_cli.context import App


command_app = typer.Typer()


@command_app.command("download")
@guarded
def download_command(
    ctx: typer.Context,
    ids: Annotated[List[str], typer.Argument(metavar="ID...", help="Job ids of completed videos.")],
    output: Annotated[str, typer.Option("--output", "-o", metavar="PATH|DIR", help="File (one id) or folder.")] = ".",
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the saved files as JSON on stdout.")] = False,
) -> None:
    """Download completed videos; warns when their files are near or past the 7-day expiry."""
    from akool_cli.errors import PartialError, UsageError
    from akool_cli.models import JobStatus
    from akool_cli.validation import check_ids
    from akool_cli.workflow import OutputTarget, download_jobs, warn_expiry

    state: App = ctx.obj
    wanted = check_ids(ids)
    if not wanted:
        raise UsageError("no job ids given", hint="pass ids: akool download ID...")
    target = OutputTarget.parse(output, len(wanted), force)
    jobs = state.client().results(wanted)
    state.history().update_from_jobs(jobs)
    by_id = {job.id: job for job in jobs}
    problems: list[str] = []
    unfinished: list[str] = []
    for job_id in wanted:
        job = by_id.get(job_id)
        if job is None:
            problems.append(f"{job_id}: not found (deleted, or made with other credentials)")
        elif job.status != JobStatus.COMPLETED or not job.video_url:
            problems.append(f"{job_id}: {job.status_name}, nothing to download yet")
            unfinished.append(job_id)
        else:
            warn_expiry(state, job)
    saved = download_jobs(state, [by_id[i] for i in wanted if i in by_id and i not in unfinished], target)
    if json_out:
        state.renderer.json([{"_id": i, "path": str(p)} for i, p in saved.items()])
    else:
        for job_id, path in saved.items():
            state.renderer.line(f"{job_id}  {path}")
    for problem in problems:
        state.renderer.warn(problem)
    if problems:
        hint = (f"wait for them with: {state.command('status', '--wait', *unfinished, '-o', str(output))}"
                if unfinished else "check the ids: akool history")
        raise (PartialError if saved else UsageError)(
            f"{len(problems)} of {len(wanted)} video(s) were not downloaded", hint=hint)
