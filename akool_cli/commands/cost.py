"""akool cost: credit estimates from the vendor's rate table, and what the history really cost."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, JsonOption, Length, Resolution



command_app = typer.Typer()


@command_app.command("cost")
@guarded
def cost(
    ctx: typer.Context,
    resolution: Annotated[Optional[Resolution], typer.Option("--resolution", "-r", help="Video resolution (default: config default_resolution).")] = None,
    length: Annotated[Optional[Length], typer.Option("--length", "-l", help="Video length in seconds (default: config default_length).")] = None,
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=100000, help="How many videos.")] = 1,
    add_audio: Annotated[bool, typer.Option("--add-audio", help="Price add-audio (updateVideoAudio) instead of a new video.")] = False,
    history: Annotated[bool, typer.Option("--history", help="Sum the credits deducted by jobs in the local history.")] = False,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Estimate credits before spending them (no network, no account needed)."""
    from akool_cli.pricing import audio_estimate, video_estimate

    from akool_cli.options import resolve_format

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    json_out = form == "json"
    if history:
        from akool_cli.views import spend_view

        state.renderer.show(spend_view(state.history().spend_by_target()), form)
        return
    secs = int(length.value) if length else int(state.setting("default_length"))
    if add_audio:
        estimate = audio_estimate(secs, count)
    else:
        res = resolution.value if resolution else state.setting("default_resolution")
        estimate = video_estimate(res, secs, count)
    if json_out:
        state.renderer.json(estimate.to_dict())
        return
    what = f"add audio to {count} x {secs}s video(s)" if add_audio else f"{count} x {secs}s {estimate.resolution} video(s)"
    state.renderer.line(f"{what}: {estimate.total} credits ({estimate.per_item} each)")
