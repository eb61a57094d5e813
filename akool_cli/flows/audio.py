"""Adding audio to a finished video: the plan (request and price) and the order the gate pays.

One home for what `akool add-audio` and MCP's plan_add_audio/execute_plan both do; neither prints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from akool_cli.core.errors import UsageError

if TYPE_CHECKING:
    from akool_cli.api.models import AddAudioRequest
    from akool_cli.api.uploads import LocalFile, Uploader
    from akool_cli.flows.deps import Deps
    from akool_cli.flows.pay import PayOrder
    from akool_cli.flows.submit import Submission
    from akool_cli.pricing.budget import Caps
    from akool_cli.pricing.prices import Estimate


@dataclass
class AudioPlan:
    video_id: str
    request: "AddAudioRequest"  # a local file's audio_url is a placeholder until it is uploaded
    estimate: "Estimate"
    length: int  # the original's seconds: the price depends on it
    audio: "LocalFile | str | None"  # None: the service generates the audio
    label: str  # what the user asked for, for the confirmation panel

    @property
    def local_files(self) -> "list[LocalFile]":
        from akool_cli.api.uploads import LocalFile

        return [self.audio] if isinstance(self.audio, LocalFile) else []


def plan_add_audio(deps: "Deps", video_id: str, audio: str | None, ai_audio: bool, *,
                   ask_service: bool = True) -> AudioPlan:
    """Check the request and price it. The price depends on the original's length: the history knows it,
    else the service is asked (free); `ask_service=False` (a dry run) assumes 5 s when nothing is known."""
    from akool_cli.api.models import AddAudioRequest, AudioType
    from akool_cli.api.uploads import check_audio
    from akool_cli.core.validation import check_ids
    from akool_cli.flows.submit import placeholder
    from akool_cli.pricing.prices import audio_estimate, length_of_video

    ids = check_ids([video_id])
    if len(ids) != 1:
        raise UsageError("add-audio takes exactly one video id", hint="run it once per video")
    if (audio is None) == (not ai_audio):
        raise UsageError("pass exactly one of --audio URL|FILE and --ai-audio", hint="e.g. --audio song.mp3")
    checked = check_audio(audio) if audio is not None else None
    entry = deps.history().get(ids[0])
    length = entry.video_length if entry and entry.video_length else None
    if length is None and ask_service:
        found = deps.client().results(ids)
        if not found:
            raise UsageError(f"video {ids[0]} was not found", hint=f"check the id: {deps.command('history')}")
        length = length_of_video(found[0].video_duration)
    length = length or 5
    audio_url = None if checked is None else checked if isinstance(checked, str) else placeholder(checked)
    request = AddAudioRequest(ids[0], AudioType.CUSTOM if audio is not None else AudioType.AI, audio_url)
    return AudioPlan(ids[0], request, audio_estimate(length), length, checked, audio or "AI generated")


def audio_order(deps: "Deps", plan: AudioPlan, *, caps: "Caps", yes: bool, title: str = "akool add-audio",
                spent_before: int = 0) -> "PayOrder":
    """The gate's order for one add-audio job (a new, paid job recorded as kind add-audio)."""
    from akool_cli.api.uploads import LocalFile
    from akool_cli.flows.pay import PayOrder, record_in_history, sending
    from akool_cli.flows.submit import Submission

    def upload(uploader: "Uploader", subs: "list[Submission]") -> None:
        if isinstance(plan.audio, LocalFile):
            plan.request.audio_url = uploader.upload(plan.audio)  # subs[0].request is this request

    client = deps.client()
    send = sending(client.add_audio)
    return PayOrder(
        title=title, rows=[("Video", plan.video_id), ("Audio", plan.label), ("Length", f"{plan.length}s")],
        submissions=[Submission(plan.video_id, plan.request)], estimates=[plan.estimate], send=send,
        record=record_in_history(deps.history(), kind="add-audio", base_url=deps.base_url,
                                 profile=deps.profile, clock=deps.clock),
        local_files=plan.local_files, caps=caps, yes=yes, upload=upload, spent_before=spent_before,
        grace=float(deps.setting("timeout")) + 5)
