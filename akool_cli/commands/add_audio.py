"""akool add-audio: put a soundtrack on a finished video (a new, paid job)."""

from __future__ import annotations

from typing import Annotated, Any, Optional

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
    from akool_cli.api.models import AddAudioRequest, AudioType
    from akool_cli.api.uploads import LocalFile, check_audio
    from akool_cli.commands.steps import caps_for, finish_paid, paid, show_dry_run
    from akool_cli.core.errors import UsageError
    from akool_cli.core.validation import check_ids, check_timeout
    from akool_cli.flows.fetch import OutputTarget
    from akool_cli.flows.pay import PayOrder, record_in_history
    from akool_cli.flows.submit import Submission, placeholder
    from akool_cli.options import resolve_format
    from akool_cli.pricing.prices import audio_estimate, length_of_video

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    check_timeout(timeout)
    if wait or output:  # a waiting command: --timeout is its whole time (none: wait for the jobs)
        state.limit_time(timeout)
    ids = check_ids([video_id])
    if len(ids) != 1:
        raise UsageError("add-audio takes exactly one video id", hint="run it once per video")
    if (audio is None) == (not ai_audio):
        raise UsageError("pass exactly one of --audio URL|FILE and --ai-audio", hint="e.g. --audio song.mp3")
    checked = check_audio(audio) if audio is not None else None
    target = OutputTarget.parse(output, 1, force) if output else None

    # The price depends on the original's length: the history knows it, else ask the service.
    entry = state.history().get(ids[0])
    length = entry.video_length if entry and entry.video_length else None
    if length is None and not dry_run:
        found = state.client().results(ids)
        if not found:
            raise UsageError(f"video {ids[0]} was not found", hint="check the id: akool history")
        length = length_of_video(found[0].video_duration)
    length = length or 5
    estimate = audio_estimate(length)
    audio_url = None if checked is None else checked if isinstance(checked, str) else placeholder(checked)
    request = AddAudioRequest(ids[0], AudioType.CUSTOM if audio is not None else AudioType.AI, audio_url)
    if dry_run:
        show_dry_run(state, [request.to_body()], estimate, form)
        return
    def upload(uploader: Any, subs: list) -> None:
        if isinstance(checked, LocalFile):
            subs[0].request.audio_url = uploader.upload(checked)

    order = PayOrder(
        title="akool add-audio", rows=[("Video", ids[0]), ("Audio", audio or "AI generated"), ("Length", f"{length}s")],
        submissions=[Submission(ids[0], request)], estimates=[estimate], send=state.client().add_audio,
        record=record_in_history(state.history(), kind="add-audio", base_url=state.base_url,
                                 profile=state.profile, clock=state.runtime.clock),
        local_files=[checked] if isinstance(checked, LocalFile) else [], caps=caps_for(state, max_credits),
        yes=yes, upload=upload, grace=float(state.setting("timeout")) + 5)
    result = paid(state, order, output=output)
    finish_paid(state, result.report, wait=wait, target=target, timeout=timeout, fmt=form,
                single=True, output=output)
