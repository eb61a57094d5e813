"""Credit estimates: one module, keyed by every dimension that changes a price.

Sources, best first: what this account was actually charged for the same key (the history's
`deduction_credit`), the model list's `unit_credit`, then the vendor's rate table.

`unit_credit` is read as credits per second of video: Akool's own basic model lists 4 at 720p,
and 4 x 5 s = 20, the vendor table's price of a 5 s 720p video (likewise 5/s at 1080p = 25,
6/s at 4k = 30). A model's `generate_audio.extra_credit_multiplier` multiplies that price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from akool_cli.api.models import AiModel

RESOLUTIONS = ("720p", "1080p", "4k")
LENGTHS = (5, 10)

# (video_length seconds, resolution) -> credits per video.
VIDEO_RATES: dict[tuple[int, str], int] = {
    (5, "720p"): 20,
    (5, "1080p"): 25,
    (5, "4k"): 30,
    (10, "720p"): 40,
    (10, "1080p"): 50,
    (10, "4k"): 60,
}

# Adding audio to an existing video, by that video's length.
AUDIO_ONLY_RATES: dict[int, int] = {5: 5, 10: 10}


SOURCE_TABLE = "the vendor's rate table"
SOURCE_MODELS = "the model list (unit_credit x seconds)"
SOURCE_REPORTED = "charges users report for this endpoint (5x the table)"

# Two independent public sources report a 720p / 5 s job through the single-create endpoint charged
# 100 credits, five times the vendor table (../shared/reference/akool-api-notes.md). Until this profile
# has been charged for a price key, the single endpoint's high figure is the table times this.
REPORTED_SINGLE_MULTIPLIER = 5


def observed_source(count: int) -> str:
    return f"your last {count} job(s)"


@dataclass(frozen=True)
class Estimate:
    """What one item (a video, or an audio track) may cost, as a range, and for how many items.

    `per_item` is the low figure (the list price we expect), `high_item` the high one (what the bill
    may be, given what users report); budgets and the balance are checked against the high one.
    Both collapse to what this profile was charged once a job of the same key has been charged."""

    kind: str  # "video", "audio" or "model"
    resolution: str | None
    length: int
    count: int
    per_item: int
    source: str = SOURCE_TABLE
    model: str | None = None
    audio: bool = False
    premium: bool = False
    high_item: int | None = None  # None: the same as per_item
    high_source: str | None = None
    observed: bool = False
    fixed_key: str | None = None  # a journaled row's key, as it was computed when the row was planned

    @property
    def low_each(self) -> int:
        return self.per_item

    @property
    def high_each(self) -> int:
        return self.per_item if self.high_item is None else max(self.high_item, self.per_item)

    @property
    def low(self) -> int:
        return self.low_each * self.count

    @property
    def high(self) -> int:
        return self.high_each * self.count

    @property
    def total(self) -> int:
        return self.low

    @property
    def is_range(self) -> bool:
        return self.high_each != self.low_each

    @property
    def sources(self) -> str:
        """Where the figures come from, in plain words."""
        if not self.is_range:
            return self.source
        return f"{self.low_each} from {self.source}; {self.high_each} from {self.high_source or self.source}"

    def describe(self, count: int | None = None) -> str:
        """'20-100 credits' or '40 credits' for `count` items (default: this estimate's)."""
        n = self.count if count is None else count
        low, high = self.low_each * n, self.high_each * n
        return f"{low} credits" if low == high else f"{low}-{high} credits"

    @property
    def key(self) -> str:
        """Everything that changes the price of one item: observed charges are looked up by it."""
        if self.fixed_key is not None:
            return self.fixed_key
        return "/".join([self.kind, self.model or "-", self.resolution or "-", str(self.length),
                         "audio" if self.audio else "-", "premium" if self.premium else "-"])

    def with_observed(self, charges: list[int]) -> "Estimate":
        """The user's own recent charges for the same key beat any list: they are the bill."""
        if not charges:
            return self
        return replace(self, per_item=min(charges), high_item=max(charges), source=observed_source(len(charges)),
                       high_source=None, observed=True)

    def with_count(self, count: int) -> "Estimate":
        return replace(self, count=count)

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "model": self.model,
            "resolution": self.resolution,
            "video_length": self.length,
            "count": self.count,
            "generate_audio": self.audio,
            "credits_each": self.per_item,
            "credits_total": self.total,
            "low": self.low,
            "high": self.high,
            "low_each": self.low_each,
            "high_each": self.high_each,
            "low_source": self.source,
            "high_source": self.high_source or self.source,
            "source": self.sources,
            "observed": self.observed,
        }


def row_estimate(price_key: str | None, low_each: int | None, high_each: int | None, count: int) -> Estimate:
    """A journaled row's estimate, rebuilt from what the journal kept (its key and both figures)."""
    return Estimate("row", None, 0, count, int(low_each or 0), "the run's estimate", high_item=high_each,
                    high_source="the run's estimate", fixed_key=price_key)


def video_estimate(resolution: str, length: int, count: int = 1, premium: bool = False) -> Estimate:
    """The single-create endpoint: the table's price, up to what users report being charged."""
    price = VIDEO_RATES[(length, resolution)]
    return Estimate("video", resolution, length, count, price, premium=premium,
                    high_item=price * REPORTED_SINGLE_MULTIPLIER, high_source=SOURCE_REPORTED)


def audio_estimate(length: int, count: int = 1) -> Estimate:
    return Estimate("audio", None, length, count, AUDIO_ONLY_RATES[length])


def model_estimate(model: "AiModel", resolution: str, length: int, count: int = 1, audio: bool = False) -> Estimate:
    """A batch create's price: unit_credit x seconds (x the audio multiplier), per variant."""
    option = model.resolution(resolution)
    resolution = option.value if option is not None else resolution  # the model's own spelling, in the key too
    multiplier = (model.audio_multiplier or 1.0) if audio else 1.0
    if option is not None and option.unit_credit is not None:
        per_item = math.ceil(option.unit_credit * length * multiplier - 1e-9)
        source = SOURCE_MODELS
    else:
        # No price listed: the vendor table, or its dearest price for the length (never an underestimate).
        base = VIDEO_RATES.get((length, resolution)) or max(
            VIDEO_RATES.get((length, r), 0) for r in RESOLUTIONS) or max(VIDEO_RATES.values())
        per_item = math.ceil(base * multiplier)
        source = SOURCE_TABLE
    return Estimate("model", resolution, length, count, per_item, source, model.value, audio)


def length_of_video(duration: float | None) -> int:
    """Which audio-only tier a finished video falls in (a 5 s video lasts about 5.06 s)."""
    if duration is None:
        return 5
    return 10 if duration > 7.5 else 5
