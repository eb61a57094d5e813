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
    from akool_cli.models import AiModel

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


SOURCE_TABLE = "vendor table"
SOURCE_MODELS = "model list"


@dataclass(frozen=True)
class Estimate:
    kind: str  # "video", "audio" or "model"
    resolution: str | None
    length: int
    count: int
    per_item: int
    source: str = SOURCE_TABLE
    model: str | None = None
    audio: bool = False
    premium: bool = False

    @property
    def total(self) -> int:
        return self.per_item * self.count

    @property
    def key(self) -> str:
        """Everything that changes the price of one item: observed charges are looked up by it."""
        return "/".join([self.kind, self.model or "-", self.resolution or "-", str(self.length),
                         "audio" if self.audio else "-", "premium" if self.premium else "-"])

    def with_observed(self, charges: list[int]) -> "Estimate":
        """The user's own recent charges for the same key beat any list: they are the bill."""
        if not charges:
            return self
        return replace(self, per_item=charges[0], source=f"your last {len(charges)} job(s)")

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
            "source": self.source,
        }


def video_estimate(resolution: str, length: int, count: int = 1, premium: bool = False) -> Estimate:
    return Estimate("video", resolution, length, count, VIDEO_RATES[(length, resolution)], premium=premium)


def audio_estimate(length: int, count: int = 1) -> Estimate:
    return Estimate("audio", None, length, count, AUDIO_ONLY_RATES[length])


def model_estimate(model: "AiModel", resolution: str, length: int, count: int = 1, audio: bool = False) -> Estimate:
    """A batch create's price: unit_credit x seconds (x the audio multiplier), per variant."""
    option = model.resolution(resolution)
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
