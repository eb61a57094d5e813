"""Credit costs: the single rate table from the vendor's Image-to-Video page."""

from __future__ import annotations

from dataclasses import dataclass

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


@dataclass(frozen=True)
class Estimate:
    kind: str  # "video" or "audio"
    resolution: str | None
    length: int
    count: int
    per_item: int

    @property
    def total(self) -> int:
        return self.per_item * self.count

    def to_dict(self) -> dict[str, object]:
        return {
            "kind": self.kind,
            "resolution": self.resolution,
            "video_length": self.length,
            "count": self.count,
            "credits_each": self.per_item,
            "credits_total": self.total,
        }


def video_estimate(resolution: str, length: int, count: int = 1) -> Estimate:
    return Estimate("video", resolution, length, count, VIDEO_RATES[(length, resolution)])


def audio_estimate(length: int, count: int = 1) -> Estimate:
    return Estimate("audio", None, length, count, AUDIO_ONLY_RATES[length])


def length_of_video(duration: float | None) -> int:
    """Which audio-only tier a finished video falls in (a 5 s video lasts about 5.06 s)."""
    if duration is None:
        return 5
    return 10 if duration > 7.5 else 5
