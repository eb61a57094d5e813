"""akool cost: credit estimates from the vendor's rate table, and what the history really cost."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from akool_cli.app import guarded
from akool_cli.completion import complete_model, complete_resolution
from akool_cli.context import App
from akool_cli.options import FORMATS, NO_IDS, FormatOption, JsonOption
from akool_cli.output.writers import record_view

command_app = typer.Typer()


@command_app.command("cost")
@guarded
def cost(
    ctx: typer.Context,
    resolution: Annotated[Optional[str], typer.Option("--resolution", "-r", metavar="RES", autocompletion=complete_resolution, help="Video resolution (default: config default_resolution); with --model, one of the model's.")] = None,
    length: Annotated[Optional[int], typer.Option("--length", "-l", metavar="SECONDS", help="Video length in seconds (default: config default_length); with --model, one of the model's.")] = None,
    count: Annotated[int, typer.Option("--count", "-n", min=1, max=100000, help="How many videos (images times variants).")] = 1,
    model: Annotated[Optional[str], typer.Option("--model", "-m", metavar="NAME", autocompletion=complete_model, help="Price this model (reads the model list, cached).")] = None,
    generate_audio: Annotated[bool, typer.Option("--generate-audio", help="With --model: price generated audio too.")] = False,
    add_audio: Annotated[bool, typer.Option("--add-audio", help="Price add-audio (updateVideoAudio) instead of a new video.")] = False,
    history: Annotated[bool, typer.Option("--history", help="Sum the credits deducted by jobs in the local history.")] = False,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Estimate credits before spending them (no network, no account needed)."""
    from akool_cli.core.errors import UsageError
    from akool_cli.options import resolve_format
    from akool_cli.pricing.prices import LENGTHS, RESOLUTIONS, audio_estimate, video_estimate

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=FORMATS if history else NO_IDS)
    if history:
        from akool_cli.output.views import spend_view

        state.renderer.show(spend_view(state.history().spend_by_target()), form)
        return
    secs = length if length is not None else int(state.setting("default_length"))
    res = resolution or str(state.setting("default_resolution"))
    if model is not None:
        from akool_cli.api.aimodels import check_model_request, resolve_model
        from akool_cli.pricing.prices import model_estimate

        chosen = resolve_model(model, state.models())
        check_model_request(chosen, resolution=res, length=secs, count=1, last_frame=False, audio=generate_audio)
        estimate = model_estimate(chosen, res, secs, count, generate_audio)
    elif generate_audio:
        raise UsageError("--generate-audio needs --model", hint="pick a model: akool models")
    elif secs not in LENGTHS or (res not in RESOLUTIONS and not add_audio):
        raise UsageError(f"no vendor price for {res} {secs}s", hint="use 720p, 1080p or 4k and 5 or 10 s, or --model")
    elif add_audio:
        estimate = audio_estimate(secs, count)
    else:
        estimate = video_estimate(res, secs, count)
    if state.paths.history_file.exists():  # what this account was charged for the same settings, first
        estimate = estimate.with_observed(state.history().observed_charges(estimate.key, state.base_url))
    what = (f"add audio to {count} x {secs}s video(s)" if add_audio else
            f"{count} x {secs}s {estimate.resolution} video(s)" + (f" with {estimate.model}" if estimate.model else ""))
    state.renderer.show(record_view(estimate.to_dict(), text=f"{what}: {estimate.describe()} "
                                                             f"({estimate.describe(1)} each: {estimate.sources})"), form)
