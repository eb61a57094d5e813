"""akool create: images in, videos out."""

from __future__ import annotations

from typing import Annotated, Any, List, Optional

import typer

from akool_cli.app import guarded
from akool_cli.completion import complete_effect, complete_model, complete_resolution
from akool_cli.context import App
from akool_cli.core.errors import UsageError
from akool_cli.options import FormatOption, JsonOption

command_app = typer.Typer()


@command_app.command("create")
@guarded
def create(
    ctx: typer.Context,
    images: Annotated[List[str], typer.Argument(metavar="IMAGE...",
                                                help="Image URLs (http/https) or local PNG/JPEG/WebP files.")],
    effect: Annotated[Optional[str], typer.Option("--effect", "-e", metavar="NAME|CODE",
                                                  autocompletion=complete_effect,
                                                  help="Effect by name, code or unique prefix (see 'akool effects').")] = None,
    prompt: Annotated[Optional[str], typer.Option("--prompt", help="How to animate the image (ignored by the service when --effect is set).")] = None,
    negative_prompt: Annotated[Optional[str], typer.Option("--negative-prompt", help="What to avoid; pass '' to send none.")] = None,
    resolution: Annotated[Optional[str], typer.Option("--resolution", "-r", metavar="RES", autocompletion=complete_resolution, help="720p, 1080p or 4k; with --model, one of the model's (default: config default_resolution, 720p).")] = None,
    length: Annotated[Optional[int], typer.Option("--length", "-l", metavar="SECONDS", help="5 or 10 (10 needs a Pro plan); with --model, one of the model's (default: config default_length, 5).")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", metavar="NAME", autocompletion=complete_model, help="Generate with this model (see 'akool models'), through the batch endpoint.")] = None,
    count: Annotated[Optional[int], typer.Option("--count", "-n", metavar="N", help="Variants per image, 1 to the model's maximum (with --model).")] = None,
    last_frame: Annotated[Optional[str], typer.Option("--last-frame", metavar="URL|FILE", help="Image the video ends on (with --model, where supported).")] = None,
    generate_audio: Annotated[bool, typer.Option("--generate-audio", help="Let the model generate audio (with --model, where supported; may cost more).")] = False,
    max_credits: Annotated[Optional[int], typer.Option("--max-credits", metavar="N", min=0, help="Spend at most N credits: refused up front when the high estimate is above N, stopped before a request that could cross it (default: config max_credits).")] = None,
    accept_price_change: Annotated[bool, typer.Option("--accept-price-change", help="Go on when the first job costs more than estimated.")] = False,
    audio: Annotated[Optional[str], typer.Option("--audio", metavar="URL|FILE", help="Your own soundtrack (audio_type 2).")] = None,
    ai_audio: Annotated[bool, typer.Option("--ai-audio", help="Let the service generate audio (audio_type 1).")] = False,
    premium: Annotated[bool, typer.Option("--premium", help="Premium model, faster (Pro plans and above).")] = False,
    extend_prompt: Annotated[bool, typer.Option("--extend-prompt", help="Let the service extend the prompt.")] = False,
    webhook: Annotated[Optional[str], typer.Option("--webhook", metavar="URL", help="URL the service POSTs results to.")] = None,
    wait: Annotated[bool, typer.Option("--wait", "-w", help="Wait until every job completes or fails.")] = False,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="PATH|DIR", help="Save the video(s) here; implies --wait.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files with -o.")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", metavar="SECONDS", min=1, help="Give up waiting after this long (the job goes on).")] = None,
    concurrency: Annotated[Optional[int], typer.Option("--concurrency", "-c", min=1, max=16, help="Jobs submitted at once (default: config concurrency, 2).")] = None,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before spending credits.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Print the request body(ies) and the estimate; send nothing.")] = False,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Print only job ids (the same as --format ids).")] = False,
) -> None:
    """Create videos from images (one job per image). Shows the cost and asks first."""
    from dataclasses import replace

    from akool_cli.api.uploads import LocalFile, check_image
    from akool_cli.commands.steps import caps_for, check_uploads, finish_paid, paid, show_dry_run
    from akool_cli.core.validation import check_timeout
    from akool_cli.flows.fetch import OutputTarget
    from akool_cli.flows.pay import PayOrder, record_in_history, sending
    from akool_cli.flows.submit import plan, upload_inputs
    from akool_cli.options import resolve_format
    from akool_cli.pricing.plan import CreateOptions, plan_create

    state: App = ctx.obj
    # ---- everything that can be checked without the network, before anything is sent
    check_timeout(timeout)
    if wait or output:  # a waiting command: --timeout is its whole time (none: wait for the jobs)
        state.limit_time(timeout)
    if quiet and (json_out or fmt not in (None, "ids")):
        raise UsageError("--quiet and --json/--format cannot be used together", hint="pick one")
    form = resolve_format("ids" if quiet else fmt, json_out)
    options = CreateOptions(effect=effect, prompt=prompt, negative_prompt=negative_prompt, resolution=resolution,
                            length=length, audio=audio, ai_audio=ai_audio, premium=premium,
                            extend_prompt=extend_prompt, webhook=webhook, model=model, count=count,
                            last_frame=last_frame, generate_audio=generate_audio)
    planned = plan_create(options, state.plan_defaults())
    for warning in planned.warnings:
        state.renderer.warn(warning)
    checked = [check_image(image) for image in images]
    variants = planned.variants
    target = OutputTarget.parse(output, len(images) * variants, force) if output else None
    workers = concurrency or int(state.setting("concurrency"))
    state.concurrency_ceiling = workers  # the account's, across machines, on a shared ledger
    template = planned.template
    estimate = replace(planned.estimate, count=len(images) * variants)
    chosen, chosen_model = planned.effect, planned.model
    audio_checked, last_checked = planned.audio, planned.last_frame
    res, secs, chosen_prompt = template.resolution, template.video_length, template.prompt
    submissions = plan(images, checked, template)
    local_audio = audio_checked if isinstance(audio_checked, LocalFile) else None
    local_last = last_checked if isinstance(last_checked, LocalFile) else None
    local_files = [sub.image for sub in submissions if sub.image] + [f for f in (local_audio, local_last) if f]
    if dry_run:  # reads the effect and model lists at most; spends nothing, uploads nothing
        check_uploads(state, len(local_files))
        show_dry_run(state, [sub.request.to_body() for sub in submissions], estimate, form)
        return

    rows = [("Images", ", ".join(images) if len(images) <= 3 else f"{len(images)} images")]
    if chosen_model is not None:
        rows += [("Model", f"{chosen_model.label} ({chosen_model.value})"), ("Variants", f"{variants} per image")]
        if last_frame:
            rows.append(("Last frame", last_frame))
        rows.append(("Audio", "generated by the model" if generate_audio else "none"))
    else:
        rows += [("Effect", f"{chosen.name} ({chosen.effect_code})" if chosen else "-"),
                 ("Audio", {1: "AI generated", 2: audio or "", 3: "none"}[int(getattr(template, "audio_type", 3))])]
        if premium:
            rows.append(("Model", "premium"))
    rows += [("Prompt", "(ignored: effect set)" if chosen else chosen_prompt), ("Resolution", res),
             ("Length", f"{secs}s")]

    def upload(uploader: Any, subs: list) -> None:
        upload_inputs(uploader, subs, local_audio, local_last)

    client = state.client()
    model_value = chosen_model.value if chosen_model else None
    order = PayOrder(
        title="akool create", rows=rows, submissions=submissions,
        estimates=[planned.estimate] * len(submissions),
        send=sending(client.create_batch if chosen_model else client.create_video),
        record=record_in_history(state.history(), kind="create", base_url=state.base_url, profile=state.profile,
                                 clock=state.runtime.clock, model=model_value),
        local_files=local_files,
        caps=caps_for(state, max_credits), workers=workers, yes=yes, accept_price_change=accept_price_change,
        split_probe=True, upload=upload, grace=float(state.setting("timeout")) + 5)
    result = paid(state, order, output=output,
                  go_on="run again with only the images not sent and --accept-price-change")
    finish_paid(state, result.report, wait=wait, target=target, timeout=timeout, fmt=form,
                single=len(images) == 1 and variants == 1, output=output)
