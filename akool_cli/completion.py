"""Shell completion: registration of the shells, effect names from the local cache (never the
network while typing), and bash answers quoted so a multi-word name stays one argument."""

from __future__ import annotations

import os
from pathlib import Path

COMPLETE_VAR = "_AKOOL_COMPLETE"
SHELLS = ("bash", "zsh", "fish")


def cached_effect_names(cache_dir: Path, incomplete: str) -> list[str]:
    from akool_cli.api.effects import EffectCache

    names: set[str] = set()
    for cache in cache_dir.glob("effects-*.json"):
        for effect in EffectCache(cache, ttl=float("inf")).load(allow_stale=True) or []:
            names.add(effect.name)
    return sorted(n for n in names if n.lower().startswith(incomplete.lower()))


def complete_effect(incomplete: str) -> list[str]:
    try:
        from akool_cli.config import Paths

        return cached_effect_names(Paths.from_env(os.environ).cache_dir, incomplete)
    except Exception:  # noqa: BLE001 - completion must never print a traceback into the shell
        return []


def _cached_models(incomplete: str) -> list:
    from akool_cli.api.effects import ListCache
    from akool_cli.api.models import AiModel
    from akool_cli.config import Paths

    found = {}
    for cache in Paths.from_env(os.environ).cache_dir.glob("models-*.json"):
        for model in ListCache(cache, float("inf"), AiModel.from_api, "models").load(allow_stale=True) or []:
            found[model.value] = model
    return list(found.values())


def complete_model(incomplete: str) -> list[str]:
    try:
        return sorted(m.value for m in _cached_models(incomplete) if m.value.lower().startswith(incomplete.lower()))
    except Exception:  # noqa: BLE001 - completion must never print a traceback into the shell
        return []


def complete_resolution(incomplete: str) -> list[str]:
    try:
        from akool_cli.pricing.prices import RESOLUTIONS

        values = set(RESOLUTIONS) | {r.value for m in _cached_models(incomplete) for r in m.resolutions}
        return sorted((v for v in values if v.startswith(incomplete)), key=lambda v: (len(v), v))
    except Exception:  # noqa: BLE001
        return []


def register_shells() -> None:
    """Typer registers its shell classes only with add_completion=True, which would cost every
    start-up its shell detection; we register them when a shell actually asks (COMPLETE_VAR set)."""
    import shlex

    from typer._click.shell_completion import add_completion_class
    from typer._completion_classes import BashComplete, completion_init

    class QuotedBashComplete(BashComplete):
        # bash inserts COMPREPLY words as they are: "Sakura Bloom" would become two arguments.
        def format_completion(self, item):  # type: ignore[no-untyped-def]
            value = str(item.value)
            return shlex.quote(value) if any(c in value for c in " \t'\"$`\\;&|<>()*?[]#~!") else value

    completion_init()
    add_completion_class(QuotedBashComplete, "bash")


def completion_script(shell: str) -> str:
    from typer._completion_shared import get_completion_script

    # fish: Typer's script offers file names exactly where akool has no completion of its own (IMAGE,
    # --audio, -o, a manifest), and none among subcommands or choices.
    return get_completion_script(prog_name="akool", complete_var=COMPLETE_VAR, shell=shell)
