"""The effect list: a TTL cache in the user cache dir, and lookup of what a user typed."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Generic, TypeVar

from akool_cli.api.models import Effect


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


def resolve_effect(query: str, effects: list[Effect]) -> Effect:
    """Exact code, then name (case and spacing ignored), then a unique prefix of either."""
    from akool_cli.core.lookup import resolve

    return resolve(query, effects, code=lambda e: e.effect_code, name=lambda e: e.name, what="effect",
                   listing="akool effects")
