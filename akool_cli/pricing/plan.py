"""What one create asks for, checked without spending: the request template, its estimate, its files.

`create` plans once for all its images; `batch run` plans once per manifest row. Everything that can
be checked locally (flags, files, the effect and model lists) is checked here, before any upload,
confirmation or paid request. Nothing here prints: warnings are returned.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

from akool_cli.api.models import AiModel, AudioType, BatchRequest, CreateRequest, Effect
from akool_cli.api.uploads import LocalFile, check_audio, check_image, check_url
from akool_cli.core.errors import UsageError
from akool_cli.pricing.prices import LENGTHS, RESOLUTIONS, Estimate, model_estimate, video_estimate

DEFAULT_PROMPT = "Animate this image with smooth camera movement and subtle object motion."
DEFAULT_NEGATIVE_PROMPT = ("blurry, distorted hands, missing fingers, extra limbs, bad anatomy, low quality, "
                           "deformed, disfigured, flickering, static, worst quality, JPEG compression artifacts, "
                           "subtitles, logo")


@dataclass(frozen=True)
class CreateOptions:
    """A create's settings by their long option names (a manifest's columns are the same names)."""

    effect: str | None = None
    prompt: str | None = None
    negative_prompt: str | None = None
    resolution: str | None = None
    length: int | None = None
    audio: str | None = None
    ai_audio: bool = False
    premium: bool = False
    extend_prompt: bool = False
    webhook: str | None = None
    model: str | None = None
    count: int | None = None
    last_frame: str | None = None
    generate_audio: bool = False


@dataclass
class Defaults:
    """What the profile fills in, and the lists a plan may consult (fetched at most once each)."""

    resolution: str
    length: int
    negative_prompt: str | None
    effects: Callable[[], list[Effect]]
    models: Callable[[], list[AiModel]]


@dataclass
class Plan:
    template: CreateRequest | BatchRequest  # image_url empty: filled per image
    estimate: Estimate  # for one image (count = its variants)
    effect: Effect | None = None
    model: AiModel | None = None
    audio: LocalFile | str | None = None
    last_frame: LocalFile | str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def variants(self) -> int:
        return self.template.count if isinstance(self.template, BatchRequest) else 1

    def local_files(self) -> list[LocalFile]:
        return [f for f in (self.audio, self.last_frame) if isinstance(f, LocalFile)]


PLACEHOLDER = "<upload of "


def placeholder(file: LocalFile) -> str:
    """What a request carries for a local file until it is uploaded."""
    return f"{PLACEHOLDER}{file.path}>"


def placeholder_path(value: object) -> str | None:
    """The path inside a placeholder, or None when `value` is not one."""
    if isinstance(value, str) and value.startswith(PLACEHOLDER) and value.endswith(">"):
        return value[len(PLACEHOLDER):-1]
    return None


def plan_create(options: CreateOptions, defaults: Defaults) -> Plan:
    """Check everything local and build the request template; UsageError names the flag at fault."""
    o = options
    if o.audio is not None and o.ai_audio:
        raise UsageError("--audio and --ai-audio cannot be used together", hint="pick one audio source")
    if o.model is None:
        for flag, given in (("--count", o.count is not None), ("--last-frame", o.last_frame is not None),
                            ("--generate-audio", o.generate_audio)):
            if given:
                raise UsageError(f"{flag} needs --model", hint="pick a model: akool models")
    elif o.effect is not None or o.audio is not None or o.ai_audio or o.premium:
        raise UsageError("--model cannot be combined with --effect, --audio, --ai-audio or --premium",
                         hint="--model generates through the batch endpoint; use --generate-audio for sound")
    if o.webhook is not None:
        check_url(o.webhook, "--webhook")
    audio = check_audio(o.audio) if o.audio is not None else None
    last = check_image(o.last_frame) if o.last_frame is not None else None
    res = o.resolution or defaults.resolution
    secs = o.length if o.length is not None else defaults.length
    prompt = o.prompt if o.prompt is not None and o.prompt.strip() else DEFAULT_PROMPT
    negative = o.negative_prompt if o.negative_prompt is not None \
        else (defaults.negative_prompt or DEFAULT_NEGATIVE_PROMPT)
    if o.model is not None:
        from akool_cli.api.aimodels import check_model_request, resolve_model

        model = resolve_model(o.model, defaults.models())
        variants = o.count or 1
        check_model_request(model, resolution=res, length=secs, count=variants, last_frame=last is not None,
                            audio=o.generate_audio)
        res = model.resolution(res).value  # type: ignore[union-attr]  # checked above: the model's own spelling
        template = BatchRequest(
            image_url="", prompt=prompt, model_name=model.value, resolution=res, video_length=secs, count=variants,
            negative_prompt=negative or None,
            last_image_url=None if last is None else last if isinstance(last, str) else placeholder(last),
            generate_audio=True if o.generate_audio else None, extend_prompt=True if o.extend_prompt else None,
            webhookurl=o.webhook)
        return Plan(template, model_estimate(model, res, secs, variants, o.generate_audio), model=model,
                    last_frame=last)
    if res not in RESOLUTIONS:
        raise UsageError(f"invalid value for '--resolution' / '-r': '{res}' is not one of "
                         + ", ".join(f"'{r}'" for r in RESOLUTIONS), hint="other values need --model; see: akool models")
    if secs not in LENGTHS:
        raise UsageError(f"invalid value for '--length' / '-l': '{secs}' is not one of "
                         + ", ".join(f"'{n}'" for n in LENGTHS), hint="other lengths need --model; see: akool models")
    effect = None
    warnings = []
    if o.effect is not None:
        from akool_cli.api.effects import resolve_effect

        effect = resolve_effect(o.effect, defaults.effects())
        if o.prompt is not None and o.prompt.strip():
            warnings.append("--prompt is ignored by the service when --effect is set")
    audio_type = AudioType.CUSTOM if o.audio is not None else AudioType.AI if o.ai_audio else AudioType.NONE
    template_v = CreateRequest(
        image_url="", prompt=prompt, negative_prompt=negative, resolution=res, video_length=secs,
        audio_type=audio_type,
        audio_url=None if audio is None else audio if isinstance(audio, str) else placeholder(audio),
        extend_prompt=True if o.extend_prompt else None, is_premium_model=True if o.premium else None,
        effect_code=effect.effect_code if effect else None, webhookurl=o.webhook)
    return Plan(template_v, video_estimate(res, secs, 1, o.premium), effect=effect, audio=audio, warnings=warnings)


def with_image(plan: Plan, image_url: str) -> Any:
    return replace(plan.template, image_url=image_url)
