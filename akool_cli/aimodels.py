"""Choosing a model and checking a request against what the model itself offers."""

from __future__ import annotations

import difflib

from akool_cli.errors import UsageError
from akool_cli.models import AiModel


def _norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def resolve_model(query: str, models: list[AiModel]) -> AiModel:
    """Exact value, then label (case and spacing ignored), then a unique prefix of either."""
    wanted = query.strip()
    if not wanted:
        raise UsageError("--model is empty", hint="run 'akool models' to list them")
    for model in models:
        if model.value == wanted:
            return model
    key = _norm(wanted)
    named = [m for m in models if key in (_norm(m.label), _norm(m.value))]
    if len(named) == 1:
        return named[0]
    prefixed = [m for m in models if key and (_norm(m.label).startswith(key) or _norm(m.value).startswith(key))]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        raise UsageError(f"model '{query}' is ambiguous: it matches " + ", ".join(sorted(m.label for m in prefixed)),
                         hint="type more of the name, or pass the exact model value")
    names = {m.label.lower(): m.label for m in models} | {m.value.lower(): m.value for m in models}
    close = difflib.get_close_matches(wanted.lower(), list(names), n=3, cutoff=0.5)
    suggestion = (" Did you mean " + " or ".join(names[c] for c in close) + "?") if close else ""
    raise UsageError(f"no model named '{query}'.{suggestion}", hint="run 'akool models' to list them all")


def check_model_request(model: AiModel, *, resolution: str, length: int, count: int, last_frame: bool,
                        audio: bool) -> None:
    """Everything the model's own lists say, checked before anything is uploaded or sent."""
    offered = [r.value for r in model.resolutions]
    if resolution not in offered:
        raise UsageError(f"{model.label} offers resolutions {', '.join(offered) or 'none'}, not '{resolution}'",
                         hint=f"pick one with -r (see: akool models)")
    if length not in model.durations:
        raise UsageError(f"{model.label} makes videos of {', '.join(map(str, model.durations))} s, not {length} s",
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
