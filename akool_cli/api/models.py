"""API objects as dataclasses. Each keeps the raw JSON it came from, unknown fields included."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

# Generated files live this long on Akool's side (vendor page).
RESOURCE_TTL_SECONDS = 7 * 24 * 3600
RESOURCE_TTL_TEXT = "7 days"


def expiry_of(created_at: float) -> float:
    """When a job's files go (epoch seconds), from when it was created (epoch seconds)."""
    return created_at + RESOURCE_TTL_SECONDS


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


_NAMES_BY_INT = {int(k): v for k, v in STATUS_NAMES.items()}  # plain ints: no enum machinery per lookup


def status_name(status: int | None) -> str:
    if status is None:
        return "unknown"
    name = _NAMES_BY_INT.get(status)
    return name if name is not None else f"unknown({status})"


def status_from_name(name: str) -> int:
    for value, label in STATUS_NAMES.items():
        if label == name:
            return int(value)
    raise ValueError(name)


REASON_LIMIT = 300  # characters of a failure reason kept and shown

# Numbers a server sends are bounded: beyond these they are not credits, times or codes.
INT_LIMIT = 10**15


def _opt_int(value: Any) -> int | None:
    if type(value) is int:  # the common case first: a status poll parses thousands of these a tick
        return value if -INT_LIMIT <= value <= INT_LIMIT else None
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer() and abs(value) <= INT_LIMIT:
        value = int(value)
    if isinstance(value, int) and abs(value) <= INT_LIMIT:
        return value
    return None


def _opt_str(value: Any) -> str | None:
    return value if type(value) is str or isinstance(value, str) else None


def _opt_float(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    number = float(value) if abs(value) <= INT_LIMIT else float("nan")
    return number if number == number else None


_TEXT_FIELDS = ("resolution", "effect_name", "effect_code", "image_url", "prompt", "audio_url", "video_url",
                "pre_video_id")


@dataclass(slots=True)  # 100,000 of them in a big batch: no per-object dict
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
        # A poll parses thousands of these a tick: each text field is kept when it is text (a type test,
        # no call), numbers go through _opt_int's bounds.
        get = data.get
        texts = [value if type(value) is str else None for value in map(get, _TEXT_FIELDS)]
        resolution, effect_name, effect_code, image_url, prompt, audio_url, video_url, pre_video_id = texts
        only_audio = get("only_add_audio")
        return cls(
            id=str(get("_id", "")), status=_opt_int(get("status")), create_time=_opt_int(get("create_time")),
            update_time=_opt_int(get("update_time")), resolution=resolution,
            video_duration=_opt_float(get("video_duration")), effect_name=effect_name, effect_code=effect_code,
            image_url=image_url, prompt=prompt, audio_type=_opt_int(get("audio_type")), audio_url=audio_url,
            deduction_credit=_opt_int(get("deduction_credit")), video_url=video_url or None,
            pre_video_id=pre_video_id, only_add_audio=only_audio if type(only_audio) is bool else None,
            raw=data,  # the parsed answer's own dict: nothing else holds it
        )

    def slim(self) -> "Job":
        """The same job without the rest of the answer it came in (kept where only its facts are needed)."""
        from dataclasses import replace

        return replace(self, raw={k: self.raw[k] for k in ("_id", "status", "deduction_credit", "video_url")
                                  if k in self.raw}, prompt=None, image_url=None)

    @property
    def status_name(self) -> str:
        return status_name(self.status)

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def failure_reason(self) -> str | None:
        """Why a failed job failed, where the service says: `failed_reason`, or `msg` on a failed job
        (both seen in public clients). Bounded: it is printed and stored."""
        if self.status != JobStatus.FAILED:
            return None
        for key in ("failed_reason", "msg"):
            value = self.raw.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()[:REASON_LIMIT]
        return None

    @property
    def cover_url(self) -> str | None:
        """A poster image of the video (batch-endpoint jobs, as public clients show); only an http(s) URL
        of sane length is kept: it becomes an <img src> in the gallery."""
        value = self.raw.get("cover_url")
        if isinstance(value, str) and value.startswith(("https://", "http://")) and len(value) <= 2048 \
                and not any(ch.isspace() or ord(ch) < 32 for ch in value):
            return value
        return None

    @property
    def downloadable(self) -> bool:
        """Completed with a video to fetch: the one test of "can be saved"."""
        return self.status == JobStatus.COMPLETED and bool(self.video_url)

    @property
    def expires_at(self) -> float | None:
        return expiry_of(self.create_time / 1000) if self.create_time else None


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


@dataclass(slots=True)  # 100,000 of them in a big batch: no per-object dict
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


@dataclass(slots=True)  # 100,000 of them in a big batch: no per-object dict
class AddAudioRequest:
    pre_video_id: str
    audio_type: int
    audio_url: str | None = None

    def to_body(self) -> dict[str, Any]:
        # updateVideoAudio's table marks audio_url required, its text "required when audio_type = 2":
        # an empty string for AI audio satisfies both readings.
        return {"pre_video_id": self.pre_video_id, "audio_type": int(self.audio_type),
                "audio_url": self.audio_url if self.audio_url is not None else ""}


@dataclass(frozen=True)
class ResolutionOption:
    value: str  # the model's own spelling (720p, 768P, 1280x720): what a request must carry
    unit_credit: float | None  # credits per second of video (see pricing)
    width: int | None = None
    height: int | None = None
    durations: list[int] = field(default_factory=list)  # offered at this resolution only, where they differ

    def matches(self, typed: str) -> bool:
        """`768p` for 768P, `1280x720` for 1280x720 or for 720p whose size is 1280 x 720, and `720p`
        for a pixel size whose short side is 720 (the first such option: landscape before portrait)."""
        import re

        wanted = typed.strip().lower()
        if wanted == self.value.lower():
            return True
        own = _pixel_size(self.value.lower()) or ((self.width, self.height) if self.width and self.height else None)
        size = _pixel_size(wanted)
        if size is not None:
            return size == own
        lines = re.fullmatch(r"(\d{3,4})p", wanted)
        return lines is not None and own is not None and _pixel_size(self.value.lower()) is not None \
            and min(own) == int(lines.group(1))


def _pixel_size(text: str) -> tuple[int, int] | None:
    import re

    found = re.fullmatch(r"(\d{2,5})\s*[x*×]\s*(\d{2,5})", text)
    return (int(found.group(1)), int(found.group(2))) if found else None


def _durations(value: Any) -> list[int]:
    if not isinstance(value, list):
        return []
    return [d for d in (_opt_int(x) for x in value) if d and 0 < d <= 600]


@dataclass
class AiModel:
    """One image-to-video model of aigModel/list (types[]=1501)."""

    value: str  # what create-batch takes as model_name
    label: str
    provider: str
    resolutions: list[ResolutionOption]
    durations: list[int]
    audio_multiplier: float | None  # None: the model cannot generate audio
    last_frame: bool
    max_count: int
    is_pro: bool
    raw: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_api(cls, data: dict[str, Any]) -> "AiModel":
        resolutions = []
        for item in data.get("resolutionList") or []:
            if isinstance(item, dict) and isinstance(item.get("value"), str):
                credit = _opt_float(item.get("unit_credit"))
                resolutions.append(ResolutionOption(item["value"], credit if credit is None or credit >= 0 else None,
                                                    _opt_int(item.get("width")), _opt_int(item.get("height")),
                                                    _durations(item.get("durationList"))))
        audio = data.get("generate_audio")
        multiplier = None
        if audio is not None and audio is not False:  # non-null and not false: supported (an object or `true`)
            given = _opt_float(audio.get("extra_credit_multiplier")) if isinstance(audio, dict) else None
            multiplier = given if given is not None and given > 0 else 1.0
        max_count = _opt_int(data.get("maxCount"))
        return cls(
            value=str(data.get("value", "")), label=str(data.get("label") or data.get("name") or data.get("value", "")),
            provider=str(data.get("provider") or data.get("group") or ""),
            resolutions=resolutions,
            durations=_durations(data.get("durationList")),
            audio_multiplier=multiplier, last_frame=data.get("supportedLastFrame") is True,
            max_count=max(1, min(10, max_count)) if max_count else 1, is_pro=data.get("isPro") is True,
            raw=dict(data))

    def resolution(self, value: str) -> ResolutionOption | None:
        """The option a user means: its exact value first, then case and pixel size ignored."""
        exact = next((r for r in self.resolutions if r.value == value), None)
        return exact or next((r for r in self.resolutions if r.matches(value)), None)

    def lengths_at(self, option: ResolutionOption | None) -> list[int]:
        return option.durations if option is not None and option.durations else self.durations


@dataclass(slots=True)  # 100,000 of them in a big batch: no per-object dict
class BatchRequest:
    """createBySourcePrompt/batch: one image, one model, `count` variants."""

    image_url: str
    prompt: str
    model_name: str
    resolution: str
    video_length: int
    count: int = 1
    negative_prompt: str | None = None
    last_image_url: str | None = None
    generate_audio: bool | None = None
    extend_prompt: bool | None = None
    webhookurl: str | None = None

    def to_body(self) -> dict[str, Any]:
        body: dict[str, Any] = {"image_url": self.image_url, "prompt": self.prompt, "model_name": self.model_name,
                                "resolution": self.resolution, "video_length": self.video_length,
                                "count": self.count}
        optional = {"negative_prompt": self.negative_prompt, "last_image_url": self.last_image_url,
                    "generate_audio": self.generate_audio, "extend_prompt": self.extend_prompt,
                    "webhookurl": self.webhookurl}
        body.update({k: v for k, v in optional.items() if v is not None})
        return body


@dataclass
class BatchItemError:
    index: int | None
    code: int | None
    msg: str


@dataclass
class BatchResult:
    jobs: list[Job]
    errors: list[BatchItemError]


def answer_jobs(answer: "Job | BatchResult") -> list[Job]:
    """The jobs of a create's answer: one for the single endpoint, a batch answer's successList."""
    return answer.jobs if isinstance(answer, BatchResult) else [answer]
