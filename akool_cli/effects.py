"""The effect list: a TTL cache in the user cache dir, and lookup of what a user typed."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from akool_cli.errors import UsageError
from akool_cli.models import Effect


def cache_file(cache_dir: Path, base_url: str, kind: str = "effects") -> Path:
    # One cache per API base: the sandbox and the real service list different effects and models.
    digest = hashlib.sha256(base_url.encode()).hexdigest()[:12]
    return cache_dir / f"{kind}-{digest}.json"


T = TypeVar("T")


@dataclass
class ListCache(Generic[T]):
    """A list the service sends (effects, models) kept as its raw JSON for `ttl` seconds."""

    path: Path
    ttl: float
    parse: Callable[[dict[str, Any]], T]
    kind: str = "effects"
    clock: Callable[[], float] = time.time

    def load(self, allow_stale: bool = False) -> list[T] | None:
        try:
            saved = json.loads(self.path.read_text())
            fetched = float(saved["fetched_at"])
            items = saved[self.kind]
        except (OSError, ValueError, KeyError, TypeError, RecursionError):
            return None  # a missing or broken cache is only a cache miss
        if not allow_stale and self.clock() - fetched > self.ttl:
            return None
        if not isinstance(items, list):
            return None
        return [self.parse(item) for item in items if isinstance(item, dict)]

    def save(self, items: list[Any]) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(prefix=f".{self.kind}.", dir=self.path.parent)
            with os.fdopen(fd, "w") as handle:
                json.dump({"fetched_at": self.clock(), self.kind: [i.raw for i in items]}, handle)
            os.replace(tmp, self.path)
        except OSError:
            pass  # the cache is an optimisation; failing to write it must not fail the command


def EffectCache(path: Path, ttl: float, clock: Callable[[], float] = time.time) -> ListCache[Effect]:  # noqa: N802
    return ListCache(path, ttl, Effect.from_api, "effects", clock)


def get_cached(fetch: Callable[[], list[T]], cache: ListCache[T], refresh: bool = False) -> list[T]:
    if not refresh:
        cached = cache.load()
        if cached:
            return cached
    items = fetch()
    cache.save(items)
    return items


get_effects = get_cached


def _norm(text: str) -> str:
    return "".join(ch for ch in text.lower() if ch.isalnum())


def resolve_effect(query: str, effects: list[Effect]) -> Effect:
    """Exact code, then name (case and spacing ignored), then a unique prefix of either."""
    wanted = query.strip()
    if not wanted:
        raise UsageError("--effect is empty", hint="run 'akool effects' to list effect names")
    for effect in effects:
        if effect.effect_code == wanted:
            return effect
    key = _norm(wanted)
    named = [e for e in effects if _norm(e.name) == key or e.effect_code.lower() == wanted.lower()]
    if len(named) == 1:
        return named[0]
    prefixed = [e for e in effects if key and (_norm(e.name).startswith(key) or _norm(e.effect_code).startswith(key))]
    if len(prefixed) == 1:
        return prefixed[0]
    if len(prefixed) > 1:
        names = ", ".join(sorted(e.name for e in prefixed))
        raise UsageError(f"effect '{query}' is ambiguous: it matches {names}",
                         hint="type more of the name, or pass the exact effect code")
    close = difflib.get_close_matches(wanted.lower(), [e.name.lower() for e in effects], n=3, cutoff=0.5)
    by_lower = {e.name.lower(): e.name for e in effects}
    suggestion = (" Did you mean " + " or ".join(by_lower[c] for c in close) + "?") if close else ""
    raise UsageError(f"no effect named '{query}'.{suggestion}", hint="run 'akool effects' to list them all")
