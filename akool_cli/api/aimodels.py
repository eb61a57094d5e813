"""Choosing a model and checking a request against what the model itself offers."""

from __future__ import annotations

from akool_cli.api.models import AiModel
from akool_cli.core.errors import UsageError


def resolve_model(query: str, models: list[AiModel]) -> AiModel:
    """Exact value, then label (case and spacing ignored), then a unique prefix of either."""
    from akool_cli.core.lookup import resolve

    return resolve(query, models, code=lambda m: m.value, name=lambda m: m.label, what="model",
                   listing="akool models")


def check_model_request(model: AiModel, *, resolution: str, length: int, count: int, last_frame: bool,
                        audio: bool) -> None:
    """Everything the model's own lists say, checked before anything is uploaded or sent."""
    option = model.resolution(resolution)
    if option is None:
        offered = [r.value for r in model.resolutions]
        raise UsageError(f"{model.label} offers resolutions {', '.join(offered) or 'none'}, not '{resolution}'",
                         hint="pick one with -r (see: akool models)")
    lengths = model.lengths_at(option)
    if length not in lengths:
        where = f" at {option.value}" if option.durations else ""
        raise UsageError(f"{model.label} makes videos of {', '.join(map(str, lengths))} s{where}, not {length} s",
                         hint="pick one with -l (see: akool models)")
    if not 1 <= count <= model.max_count:
        raise UsageError(f"{model.label} makes 1 to {model.max_count} variants at once, not {count}",
                         hint=f"pass --count {model.max_count} or fewer")
    if last_frame and not model.last_frame:
        raise UsageError(f"{model.label} does not take a last frame",
                         hint="drop --last-frame, or pick a model that supports it (see: akool models)")
    if audio and model.audio_multiplier is None:
        raise UsageError(f"{model.label} cannot generate audio",
                         hint="drop --generate-audio, or pick a model that can (see: akool models)")
