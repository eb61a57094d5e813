"""akool delete: remove videos on the service, in one request."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, JsonOption

command_app = typer.Typer()


@command_app.command("delete")
@guarded
def delete(
    ctx: typer.Context,
    ids: Annotated[Optional[List[str]], typer.Argument(metavar="[ID...]", help="Job ids to delete.")] = None,
    from_file: Annotated[Optional[str], typer.Option("--from-file", metavar="FILE", help="Ids from a file (one a line, a JSON list, or a gallery's marks.json: its reject list); - reads stdin.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Delete videos. Each id is reported: deleted, or refused with the server's reason."""
    from akool_cli.core.errors import PartialError, UsageError
    from akool_cli.core.validation import check_ids
    from akool_cli.options import resolve_format
    from akool_cli.output.views import delete_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    wanted = check_ids(ids or [])
    if from_file is not None:
        from akool_cli.core.validation import read_ids_file

        wanted = check_ids(wanted + read_ids_file(from_file, mark="reject", stdin=state.runtime.stdin))
    if not wanted:
        raise UsageError("no job ids given", hint="pass ids: akool delete ID..., or --from-file FILE")
    from akool_cli.commands.steps import ask_first

    ask_first(state, f"Delete {len(wanted)} video(s) for good?", yes=yes, action="deleting",
              refused="nothing was deleted")
    from akool_cli.flows.delete import delete_jobs

    done = delete_jobs(state.deps(), wanted)
    state.renderer.show(delete_view(wanted, done.result, done.already), form)
    if done.not_deleted:
        raise PartialError(f"{len(done.not_deleted)} of {len(wanted)} video(s) were not deleted",
                           hint="see each id's reason above" + ("; a video still processing can be deleted once "
                                                                "it has finished" if done.busy else ""))
