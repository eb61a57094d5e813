"""akool create: images in, videos out."""

from __future__ import annotations

from typing import Annotated, List, Optional

import typer

from akool_cli.app import guarded
from akool_cli.completion import complete_effect
from akool_cli.context import App
from akool_cli.options import FormatOption, JsonOption, Length, Resolution
from akool_cli.errors import UsageError

DEFAULT_PROMPT = "Animate this image with smooth camera movement and subtle object motion."
DEFAULT_NEGATIVE_PROMPT = ("blurry, distorted hands, missing fingers, extra limbs, bad anatomy, low quality, "
                           "deformed, disfigured, flickering, static, worst quality, JPEG compression artifacts, "
                           "subtitles, logo")



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
    resolution: Annotated[Optional[Resolution], typer.Option("--resolution", "-r", help="Output resolution (default: config default_resolution, 720p).")] = None,
    length: Annotated[Optional[Length], typer.Option("--length", "-l", help="Video length in seconds; 10 needs a Pro plan (default: config default_length, 5).")] = None,
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
    from akool_cli.models import AudioType, CreateRequest
    from akool_cli.options import resolve_format
    from akool_cli.pricing import video_estimate
    from akool_cli.submit import placeholder, plan, upload_inputs
    from akool_cli.uploads import LocalFile, check_audio, check_image, check_url
    from akool_cli.validation import check_timeout
    from akool_cli.workflow import (OutputTarget, confirm_spend, finish_paid, require_uploader, show_dry_run,
                                    submit_paid)

    state: App = ctx.obj
    # ---- everything that can be checked without the network, before anything is sent
    check_timeout(timeout)
    if quiet and (json_out or fmt not in (None, "ids")):
        raise UsageError("--quiet and --json/--format cannot be used together", hint="pick one")
    form = resolve_format("ids" if quiet else fmt, json_out)
    if audio is not None and ai_audio:
        raise UsageError("--audio and --ai-audio cannot be used together", hint="pick one audio source")
    if webhook is not None:
        check_url(webhook, "--webhook")
    checked = [check_image(image) for image in images]
    audio_checked = check_audio(audio) if audio is not None else None
    target = OutputTarget.parse(output, len(images), force) if output else None
    workers = concurrency or int(state.setting("concurrency"))

    chosen = None
    if effect is not None:
        from akool_cli.effects import resolve_effect

        chosen = resolve_effect(effect, state.effects())
        if prompt is not None and prompt.strip():
            state.renderer.warn("--prompt is ignored by the service when --effect is set")

    audio_type = AudioType.CUSTOM if audio is not None else AudioType.AI if ai_audio else AudioType.NONE
    template = CreateRequest(
        image_url="",
        prompt=prompt if prompt is not None and prompt.strip() else DEFAULT_PROMPT,
        negative_prompt=negative_prompt if negative_prompt is not None
        else (state.setting("negative_prompt") or DEFAULT_NEGATIVE_PROMPT),
        resolution=resolution.value if resolution else state.setting("default_resolution"),
        video_length=int(length.value) if length else int(state.setting("default_length")),
        audio_type=audio_type,
        audio_url=None if audio_checked is None
        else audio_checked if isinstance(audio_checked, str) else placeholder(audio_checked),
        extend_prompt=True if extend_prompt else None,
        is_premium_model=True if premium else None,
        effect_code=chosen.effect_code if chosen else None,
        webhookurl=webhook,
    )
    submissions = plan(images, checked, template)
    estimate = video_estimate(template.resolution, template.video_length, len(submissions))
    if dry_run:
        show_dry_run(state, [sub.request.to_body() for sub in submissions], estimate, form in ("json", "jsonl"))
        return

    local_audio = audio_checked if isinstance(audio_checked, LocalFile) else None
    uploader = require_uploader(state, [sub.image for sub in submissions if sub.image] + [local_audio])
    # The history must be able to take the jobs before anything is paid for.
    state.history().prove_writable()
    rows = [("Images", ", ".join(images) if len(images) <= 3 else f"{len(images)} images"),
            ("Effect", f"{chosen.name} ({chosen.effect_code})" if chosen else "-"),
            ("Prompt", "(ignored: effect set)" if chosen else template.prompt),
            ("Resolution", template.resolution), ("Length", f"{template.video_length}s"),
            ("Audio", {1: "AI generated", 2: audio or "", 3: "none"}[int(audio_type)])]
    if premium:
        rows.append(("Model", "premium"))
    confirm_spend(state, rows, estimate, yes=yes, title="akool create")
    upload_inputs(uploader, submissions, local_audio)

    report = submit_paid(state, state.client().create_video, submissions, workers, kind="create",
                         video_length=template.video_length, estimate=estimate.per_item, output=output)
    finish_paid(state, report, wait=wait, target=target, timeout=timeout, fmt=form,
                single=len(images) == 1, output=output)
