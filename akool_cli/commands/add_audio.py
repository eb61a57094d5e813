"""akool add-audio: put a soundtrack on a finished video (a new, paid job)."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, JsonOption

command_app = typer.Typer()


@command_app.command("add-audio")
@guarded
def add_audio(
    ctx: typer.Context,
    video_id: Annotated[str, typer.Argument(metavar="VIDEO_ID", help="Id of a completed video.")],
    audio: Annotated[Optional[str], typer.Option("--audio", metavar="URL|FILE", help="Your own audio (audio_type 2).")] = None,
    ai_audio: Annotated[bool, typer.Option("--ai-audio", help="Let the service generate audio (audio_type 1).")] = False,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait until the new job completes or fails.")] = False,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="PATH|DIR", help="Save the new video here; implies --wait.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file with -o.")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", metavar="SECONDS", min=1, help="Give up waiting after this long.")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before spending credits.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the request body and the estimate; send nothing.")] = False,
    max_credits: Annotated[Optional[int], typer.Option("--max-credits", metavar="N", min=0, help="Spend at most N credits (default: config max_credits).")] = None,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Add audio to a finished video: 5 credits for a 5 s video, 10 for 10 s."""
    from akool_cli.commands.steps import caps_for, finish_paid, paid, show_dry_run
    from akool_cli.core.validation import check_timeout
    from akool_cli.flows.audio import audio_order, plan_add_audio
    from akool_cli.flows.fetch import OutputTarget
    from akool_cli.options import resolve_format

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    check_timeout(timeout)
    if wait or output:  # a waiting command: --timeout is its whole time (none: wait for the jobs)
        state.limit_time(timeout)
    target = OutputTarget.parse(output, 1, force) if output else None
    deps = state.deps()
    plan = plan_add_audio(deps, video_id, audio, ai_audio, ask_service=not dry_run)
    if dry_run:
        show_dry_run(state, [plan.request.to_body()], plan.estimate, form)
        return
    result = paid(state, audio_order(deps, plan, caps=caps_for(state, max_credits), yes=yes), output=output)
    finish_paid(state, result.report, wait=wait, target=target, timeout=timeout, fmt=form,
                single=True, output=output)
