"""akool upload FILE... and akool uploads list|prune: the files this tool put in your bucket."""

from __future__ import annotations

from typing import Annotated, List

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, JsonOption, ListingJsonOption

upload_app = typer.Typer()
uploads_app = typer.Typer(no_args_is_help=True, help="What this tool uploaded (upload.backend s3): list, prune.")


@upload_app.command("upload")
@guarded
def upload_command(
    ctx: typer.Context,
    files: Annotated[List[str], typer.Argument(metavar="FILE...", help="Images or audio files to upload.")],
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Upload local files with the configured uploader and print their links (tests a configuration)."""
    from akool_cli.flows.uploads import upload_files
    from akool_cli.options import resolve_format
    from akool_cli.output.writers import lines_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    done = upload_files(state.uploader(), files, now=state.runtime.clock())
    records = [item.record() for item in done]
    state.renderer.show(lines_view([f"{item.file}  {item.url}" for item in done], records, id_key="url"), form)


@uploads_app.command("list")
@guarded
def uploads_list(
    ctx: typer.Context,
    all_: Annotated[bool, typer.Option("--all", help="Also objects pruned or deleted already.")] = False,
    fmt: FormatOption = None,
    json_out: ListingJsonOption = False,
) -> None:
    """Objects this tool put in a bucket: size, when last used, the jobs that used them."""
    from akool_cli.options import resolve_format
    from akool_cli.output.views import uploads_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    rows = state.history().uploads(include_deleted=all_) if state.paths.history_file.exists() else []
    state.renderer.show(uploads_view(rows), form)


@uploads_app.command("prune")
@guarded
def uploads_prune(
    ctx: typer.Context,
    older_than: Annotated[float, typer.Option("--older-than", metavar="DAYS", min=0,
                                              help="Only objects last used more than DAYS days ago (default 7: "
                                                   "Akool keeps a job's files 7 days).")] = 7.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List what would be deleted; delete nothing.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Delete from the bucket the objects this tool uploaded and no job has used for DAYS days."""
    from akool_cli.core.errors import PartialError, UsageError
    from akool_cli.flows.uploads import prune
    from akool_cli.options import resolve_format
    from akool_cli.output.views import prune_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    if state.upload_backend != "s3" or state.sandbox:
        raise UsageError("uploads prune works on the s3 backend's bucket, and upload.backend is not s3",
                         hint="set it up: akool config set upload.backend s3")
    uploader = state.s3_uploader()
    uploader.ready()

    def confirm(count: int) -> None:
        from akool_cli.commands.steps import ask_first

        if not dry_run and count:
            ask_first(state, f"Delete {count} object(s) from {uploader.settings.where} for good?", yes=yes,
                      action="pruning", refused="nothing was deleted")

    result = prune(state.history(), uploader, older_than_days=older_than, now=state.runtime.clock(),
                   dry_run=dry_run, confirm=confirm)
    state.renderer.show(prune_view(result.rows), form)
    state.renderer.info(result.summary)
    if result.failed:
        raise PartialError(f"{result.failed} object(s) could not be deleted", hint="see each object's reason above")
