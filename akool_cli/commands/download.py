"""akool download: save completed videos (status lookup, then streamed atomic download)."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, JsonOption

command_app = typer.Typer()


@command_app.command("download")
@guarded
def download_command(
    ctx: typer.Context,
    ids: Annotated[Optional[List[str]], typer.Argument(metavar="[ID...]", help="Job ids of completed videos.")] = None,
    output: Annotated[str, typer.Option("--output", "-o", metavar="PATH|DIR|TEMPLATE", help="File (one id), folder, or a name template such as 'out/{id}.mp4'.")] = ".",
    from_file: Annotated[Optional[str], typer.Option("--from-file", metavar="FILE", help="Ids from a file (one a line, a JSON list, or a gallery's marks.json: its keep list); - reads stdin.")] = None,
    unsaved: Annotated[bool, typer.Option("--unsaved", help="Every completed job of the history with no saved file yet (this base URL).")] = False,
    expiring_within: Annotated[Optional[float], typer.Option("--expiring-within", metavar="HOURS", min=0, max=24 * 7, help="With --unsaved: only those whose files expire within this many hours.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Download completed videos; warns when their files are near or past the 7-day expiry."""
    from akool_cli.commands.steps import download_jobs, warn_expiry
    from akool_cli.core.errors import PartialError, UsageError
    from akool_cli.core.validation import check_ids
    from akool_cli.flows.fetch import OutputTarget
    from akool_cli.flows.wait import fetch_jobs
    from akool_cli.options import resolve_format
    from akool_cli.output.writers import lines_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    wanted = check_ids(ids or [])
    if from_file is not None:
        from akool_cli.core.validation import read_ids_file

        wanted = check_ids(wanted + read_ids_file(from_file, mark="keep", stdin=state.runtime.stdin))
    if unsaved:
        if wanted:
            raise UsageError("--unsaved takes no ids", hint="drop the ids, or drop --unsaved")
        from akool_cli.flows.sync import sync

        # Jobs made with --no-wait or --quiet may have finished since: ask the service first.
        wanted = sync(state.deps(), expiring_within).unsaved
        if not wanted:
            state.renderer.info("every completed job of the history is saved" + (
                f" (or expires later than {expiring_within:g} h)" if expiring_within is not None else ""))
            state.renderer.show(lines_view([], [], id_key="_id"), form)  # `[]` for machines, nothing for people
            return
        state.renderer.info(f"{len(wanted)} unsaved job(s) to save")
    elif expiring_within is not None:
        raise UsageError("--expiring-within goes with --unsaved", hint="e.g. akool download --unsaved --expiring-within 24 -o videos/")
    if not wanted:
        raise UsageError("no job ids given", hint="pass ids: akool download ID..., or --unsaved")
    target = OutputTarget.parse(output, len(wanted), force)
    jobs = fetch_jobs(state.client(), wanted)
    state.history().update_from_jobs(jobs)
    by_id = {job.id: job for job in jobs}
    problems: list[str] = []
    unfinished: list[str] = []
    for job_id in wanted:
        job = by_id.get(job_id)
        if job is None:
            problems.append(f"{job_id}: not found (deleted, or made with other credentials)")
        elif not job.downloadable:
            problems.append(f"{job_id}: {job.status_name}, nothing to download yet")
            unfinished.append(job_id)
        else:
            warn_expiry(state, job)
    saved = download_jobs(state, [by_id[i] for i in wanted if i in by_id and i not in unfinished], target)
    state.renderer.show(lines_view([f"{i}  {p}" for i, p in saved.items()],
                                   [{"_id": i, "path": str(p)} for i, p in saved.items()], id_key="_id"), form)
    for problem in problems:
        state.renderer.warn(problem)
    if problems:
        hint = (f"wait for them with: {state.command('status', '--wait', *unfinished, '-o', str(output))}"
                if unfinished else "check the ids: akool history")
        raise (PartialError if saved else UsageError)(
            f"{len(problems)} of {len(wanted)} video(s) were not downloaded", hint=hint)
