"""akool delete: remove videos on the service, in one request."""

from __future__ import annotations

from typing import Annotated, List

import typer

from akool_cli.app import app, guarded
from akool_cli.context import App


@app.command(rich_help_panel="Videos")
@guarded
def delete(
    ctx: typer.Context,
    ids: Annotated[List[str], typer.Argument(metavar="ID...", help="Job ids to delete.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the result as JSON on stdout.")] = False,
) -> None:
    """Delete videos. Each id is reported: deleted, or refused with the server's reason."""
    from akool_cli.errors import Declined, PartialError, UsageError
    from akool_cli.validation import check_ids

    state: App = ctx.obj
    wanted = check_ids(ids)
    if not wanted:
        raise UsageError("no job ids given", hint="pass ids: akool delete ID...")
    if not yes:
        if not state.runtime.stdin_tty:
            raise UsageError("deleting needs confirmation and there is no terminal to ask on",
                             hint="pass --yes in scripts and CI")
        if not state.confirm(f"Delete {len(wanted)} video(s) for good?"):
            raise Declined("you answered no; nothing was deleted")
    result = state.client().delete(wanted)
    state.history().mark_deleted(result.success_ids)
    refused = {r.id: r.msg for r in result.refused}
    if json_out:
        state.renderer.json({"deleted": result.success_ids,
                             "refused": [{"_id": r.id, "msg": r.msg} for r in result.refused]})
    else:
        for job_id in wanted:
            if job_id in result.success_ids:
                state.renderer.line(f"{job_id}  deleted")
            else:
                state.renderer.line(f"{job_id}  refused: {refused.get(job_id, 'no answer for this id')}")
    not_deleted = [i for i in wanted if i not in result.success_ids]
    if not_deleted:
        raise PartialError(f"{len(not_deleted)} of {len(wanted)} video(s) were not deleted",
                           hint="see the reasons above; processing videos can be deleted once finished")
