"""The MCP tools as an agent sees them: names, described parameters, allowed values, annotations.

No `from __future__ import annotations` here: the SDK reads these annotations at run time to build each
tool's JSON schema (descriptions, bounds, enums). Imported only by `akool mcp` (the mcp extra).
"""

from typing import Annotated, Any, Callable, Literal

import anyio.from_thread
from mcp.server.mcpserver import Context
from mcp.types import ToolAnnotations
from pydantic import Field

free = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True, open_world_hint=True)
paying = ToolAnnotations(read_only_hint=False, destructive_hint=True, idempotent_hint=False, open_world_hint=True)
saving = ToolAnnotations(read_only_hint=False, destructive_hint=False, idempotent_hint=True, open_world_hint=True)

JobIds = Annotated[list[str], Field(description="Job ids (24 hex characters each), as execute_plan returned "
                                                "them", min_length=1, max_length=1000)]
Model = Annotated[str | None, Field(description="A model's value or label from list_models (uses the batch "
                                                "endpoint; omit for the default single endpoint)")]
Resolution = Annotated[str | None, Field(description="720p, 1080p or 4k; with a model, one of its resolutions "
                                                     "(case and pixel sizes such as 1280x720 are accepted)")]
Length = Annotated[int | None, Field(description="Seconds: 5 or 10; with a model, one of its lengths", ge=1,
                                     le=600)]



def register_tools(server: Any, agent: Any, guarded: Callable[[Callable[..., Any]], Callable[..., Any]],
                   known: dict[str, list[str]] | None = None) -> None:
    """Every tool of `akool mcp`. Free ones are marked read-only; execute_plan destructive and not idempotent.
    `known`: effect and model names to offer as allowed values (from the local lists)."""
    tool = _decorator(server, agent)
    _free_tools(tool, agent, guarded)
    _plan_tools(tool, agent, guarded, known or {})
    _pay_and_follow_tools(tool, agent, guarded)


def _choices(names: list[str]) -> dict[str, Any]:
    """Allowed values shown in the schema (not enforced by it: the tool's own lookup takes case-insensitive
    names and unique prefixes, and answers a wrong one with the list)."""
    return {"enum": [*names[:500], None]} if names else {}


def _decorator(server: Any, agent: Any) -> Callable[..., Callable[[Callable[..., Any]], Any]]:
    import functools

    def tool(description: str, annotations: ToolAnnotations = free) -> Callable[[Callable[..., Any]], Any]:
        """server.tool, with the tool's warnings (flows' events) added to its result as `warnings`."""
        def register(func: Callable[..., dict[str, Any]]) -> Any:
            @functools.wraps(func)
            def noted(*args: Any, **kwargs: Any) -> dict[str, Any]:
                result = func(*args, **kwargs)
                return {**result, "warnings": list(agent.notes)} if agent.notes else result
            return server.tool(description=description, annotations=annotations)(noted)
        return register
    return tool


def _free_tools(tool: Callable[..., Any], agent: Any, guarded: Callable[..., Any]) -> None:
    @tool(description="List the effects for plan_video's effect (name or code). Free.")
    def list_effects() -> dict[str, Any]:
        return {"effects": guarded(agent.list_effects)()}

    @tool(description="List the image-to-video models: resolutions with credits per second, lengths, audio. Free.")
    def list_models() -> dict[str, Any]:
        return {"models": guarded(agent.list_models)()}

    @tool(description="The account's credit balance and where requests go. Free.")
    def get_balance() -> dict[str, Any]:
        return guarded(agent.get_balance)()

    @tool(description="Estimate credits for videos without spending: a range (low-high) and its sources. Free.")
    def estimate_cost(model: Model = None, resolution: Resolution = None, length: Length = None,
                      count: Annotated[int, Field(description="How many videos", ge=1, le=100000)] = 1,
                      generate_audio: Annotated[bool, Field(description="With a model that can: price "
                                                                        "generated audio too")] = False) -> dict[str, Any]:
        return guarded(agent.estimate_cost)(model=model, resolution=resolution, length=length, count=count,
                                            generate_audio=generate_audio)

    @tool(description="Status of jobs by id, one request for all. Free.")
    def job_status(job_ids: JobIds) -> dict[str, Any]:
        return {"jobs": guarded(agent.job_status)(ids=job_ids)}

    @tool(description="Jobs this machine created, newest first (optionally one status). Free.")
    def list_history(limit: Annotated[int, Field(description="At most this many jobs", ge=1, le=1000)] = 20,
                     status: Annotated[Literal["queueing", "processing", "completed", "failed"] | None,
                                       Field(description="Only jobs with this status")] = None) -> dict[str, Any]:
        return {"history": guarded(agent.list_history)(limit=limit, status=status)}


def _plan_tools(tool: Callable[..., Any], agent: Any, guarded: Callable[..., Any], known: dict[str, list[str]]) -> None:
    effects, models = known.get("effect", []), known.get("model", [])
    Effect = Annotated[str | None, Field(description="An effect's name or code from list_effects (not with model)"
                                         + ("; one of the listed values" if effects else ""),
                                         json_schema_extra=_choices(effects))]
    PlanModel = Annotated[str | None, Field(description="A model's value or label from list_models (uses the batch "
                                            "endpoint; omit for the default single endpoint)",
                                            json_schema_extra=_choices(models))]

    @tool(description="Check a video request and price it WITHOUT spending: returns plan_id, the exact "
                      "request(s), the estimate and the balance. Show the estimate to the user, then call "
                      "execute_plan to pay. One plan may hold several images (one job each). Free.")
    def plan_video(image: Annotated[str | None, Field(description="An https URL of the image, or a file path on "
                                                                  "this machine (uploaded at execute time)")] = None,
                   images: Annotated[list[str] | None, Field(description="Several images (URLs or paths), one "
                                                                         "video each, same options", min_length=1,
                                                             max_length=100)] = None,
                   effect: Effect = None,
                   prompt: Annotated[str | None, Field(description="What should happen in the video")] = None,
                   negative_prompt: Annotated[str | None, Field(description="What to avoid")] = None,
                   model: PlanModel = None, resolution: Resolution = None, length: Length = None,
                   count: Annotated[int | None, Field(description="With a model: variants of the image (up to the "
                                                                  "model's maxCount)", ge=1, le=10)] = None,
                   last_frame: Annotated[str | None, Field(description="With a model that supports it: the image "
                                                                       "the video ends on (URL or path)")] = None,
                   generate_audio: Annotated[bool, Field(description="With a model that can: generate "
                                                                     "sound")] = False) -> dict[str, Any]:
        return guarded(agent.plan_video)(image=image, effect=effect, prompt=prompt, negative_prompt=negative_prompt,
                                         model=model, resolution=resolution, length=length, count=count,
                                         last_frame=last_frame, generate_audio=generate_audio, images=images)

    @tool(description="Plan adding audio to a completed video WITHOUT spending (a new job: 5 credits for a 5 s "
                      "video, 10 for 10 s): returns plan_id and the estimate; execute_plan pays. Free.")
    def plan_add_audio(job_id: Annotated[str, Field(description="A completed video's job id")],
                       audio: Annotated[str | None, Field(description="An https URL of your audio, or a file path "
                                                                      "on this machine (not with ai_audio)")] = None,
                       ai_audio: Annotated[bool, Field(description="Let the service generate the audio")] = False,
                       ) -> dict[str, Any]:
        return guarded(agent.plan_add_audio)(job_id=job_id, audio=audio, ai_audio=ai_audio)

    @tool(description="Plan deleting videos at the service WITHOUT deleting: returns plan_id and what each id "
                      "is. Show the user, then execute_plan deletes them for good. Free.")
    def plan_delete(job_ids: JobIds) -> dict[str, Any]:
        return guarded(agent.plan_delete)(job_ids=job_ids)


def _pay_and_follow_tools(tool: Callable[..., Any], agent: Any, guarded: Callable[..., Any]) -> None:
    @tool(description="SPENDS CREDITS (or deletes, for a plan_delete plan): carry out a plan, at most once per "
                      "plan, within 10 minutes of planning. Returns the job ids (already in the history). Never "
                      "call it twice for the same user request.", annotations=paying)
    def execute_plan(plan_id: Annotated[str, Field(description="The plan_id plan_video returned")]) -> dict[str, Any]:
        return guarded(agent.execute_plan)(plan_id=plan_id)

    @tool(description="Wait until the jobs complete or fail; returns their status, with progress notifications "
                      "after each poll. Free.")
    def wait_for_jobs(job_ids: JobIds, ctx: Context,
                      timeout: Annotated[float, Field(description="Seconds to wait at most; the jobs go on after it",
                                                      ge=1, le=3600)] = 300) -> dict[str, Any]:
        def progress(final: int, total: int, message: str) -> None:
            try:  # this tool runs in a worker thread; the notification is sent from the event loop
                anyio.from_thread.run(ctx.report_progress, final, total, message)
            except Exception:  # noqa: BLE001 - progress is a courtesy: never fail the wait over it
                pass
        return {"jobs": guarded(agent.wait_for_jobs)(ids=job_ids, timeout=timeout, on_progress=progress)}

    @tool(description="Save a completed video to a path inside the folder(s) allowed with --allow-dir. Free.",
          annotations=saving)
    def download_video(job_id: Annotated[str, Field(description="One completed job's id")],
                       path: Annotated[str, Field(description="A file name or path inside an allowed folder "
                                                              "(.mp4 is added)")]) -> dict[str, Any]:
        return guarded(agent.download_video)(job_id=job_id, path=path)
