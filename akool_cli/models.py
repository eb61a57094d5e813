"""API objects as dataclasses. Each keeps the raw JSON it came from, unknown fields included."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

# Generated files live this long on Akool's side (vendor page).
RESOURCE_TTL_SECONDS = 7 * 24 * 3600


JOB_ID_PATTERN = r"[0-9a-fA-F]{24}"


def is_job_id(value: object) -> bool:
    """Akool's ids are 24 hex characters. Anything else, typed or sent by a server, is refused
    before it becomes a file name, SQL or a command line."""
    import re

    return isinstance(value, str) and re.fullmatch(JOB_ID_PATTERN, value) is not None


class JobStatus(IntEnum):
    QUEUEING = 1
    PROCESSING = 2
    COMPLETED = 3
    FAILED = 4


STATUS_NAMES: dict[int, str] = {
    JobStatus.QUEUEING: "queueing",
    JobStatus.PROCESSING: "processing",
    JobStatus.COMPLETED: "completed",
    JobStatus.FAILED: "failed",
}
FINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED})


def status_name(status: int | None) -> str:
    if status is None:
        return "unknown"
    return STATUS_NAMES.get(status, f"unknown({status})")


def status_from_name(name: str) -> int:
    for value, label in STATUS_NAMES.items():
        if label == name:
            return int(value)
    raise ValueError(name)


# Numbers a server sends are bounded: beyond these they are not credits, times or codes.
INT_LIMIT = 10**15


def _opt_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) <= INT_LIMIT:
        value = int(value)
    if isinstance(value, int) and abs(value) <= INT_LIMIT:
        return value
    return None


def _opt_str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def _opt_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value) if abs(value) <= INT_LIMIT else float("nan")
    return number if number == number else None


@dataclass
class Job:
    id: str
    status: int | None
    create_time: int | None = None
    update_time: int | None = None
    resolution: str | None = None
    video_duration: float | None = None
    effect_name: str | None = None
    effect_code: str | None = None
    image_url: str | None = None
    prompt: str | None = None
    audio_type: int | None = None
    audio_url: str | None = None
    deduction_credit: int | None = None
    video_url: str | None = None
    pre_video_id: str | None = None
    only_add_audio: bool | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Job":
        return cls(
            id=str(data.get("_id", "")),
            status=_opt_int(data.get("status")),
            create_time=_opt_int(data.get("create_time")),
            update_time=_opt_int(data.get("update_time")),
            resolution=_opt_str(data.get("resolution")),
            video_duration=_opt_float(data.get("video_duration")),
            effect_name=_opt_str(data.get("effect_name")),
            effect_code=_opt_str(data.get("effect_code")),
            image_url=_opt_str(data.get("image_url")),
            prompt=_opt_str(data.get("prompt")),
            audio_type=_opt_int(data.get("audio_type")),
            audio_url=_opt_str(data.get("audio_url")),
            deduction_credit=_opt_int(data.get("deduction_credit")),
            video_url=_opt_str(data.get("video_url")) or None,
            pre_video_id=_opt_str(data.get("pre_video_id")),
            only_add_audio=data.get("only_add_audio") if isinstance(data.get("only_add_audio"), bool) else None,
            raw=dict(data),
        )

    @property
    def status_name(self) -> str:
        return status_name(self.status)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES


@dataclass
class Effect:
    id: str
    name: str
    effect_code: str
    logo: str | None = None
    video_url: str | None = None
    create_time: int | None = None
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "Effect":
        return cls(
            id=str(data.get("_id", "")),
            name=str(data.get("name", "")),
            effect_code=str(data.get("effect_code", "")),
            logo=_opt_str(data.get("logo")),
            video_url=_opt_str(data.get("video_url")),
            create_time=_opt_int(data.get("create_time")),
            raw=dict(data),
        )


@dataclass
class Refusal:
    id: str
    msg: str


@dataclass
class DeleteResult:
    success_ids: list[str]
    refused: list[Refusal]
    raw: dict[str, Any] = field(default_factory=dict, repr=False)


class AudioType(IntEnum):
    AI = 1
    CUSTOM = 2
    NONE = 3


@dataclass
class CreateRequest:
    image_url: str
    prompt: str
    negative_prompt: str
    resolution: str
    video_length: int
    audio_type: int = AudioType.NONE
    audio_url: str | None = None
    extend_prompt: bool | None = None
    is_premium_model: bool | None = None
    effect_code: str | None = None
    webhookurl: str | None = None

    def to_body(self) -> dict[str, Any]:
        """The JSON body, with the vendor's field names; optional fields only when set."""
        body: dict[str, Any] = {
            "image_url": self.image_url,
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "resolution": self.resolution,
            "audio_type": int(self.audio_type),
            "video_length": self.video_length,
        }
        optional = {
            "audio_url": self.audio_url,
            "extend_prompt": self.extend_prompt,
            "is_premium_model": self.is_premium_model,
            "effect_code": self.effect_code,
            "webhookurl": self.webhookurl,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


@dataclass
class AddAudioRequest:
    pre_video_id: str
    audio_type: int
    audio_url: str | None = None

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"pre_video_id": self.pre_video_id, "audio_type": int(self.audio_type)}
        if self.audio_url is not None:
            body["audio_url"] = self.audio_url
        return body
