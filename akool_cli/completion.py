"""Dynamic shell completion: effect names from the local cache (never the network while typing)."""

from __future__ import annotations

import os
from pathlib import Path


def cached_effect_names(cache_dir: Path, incomplete: str) -> list[str]:
    from akool_cli.effects import EffectCache

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
