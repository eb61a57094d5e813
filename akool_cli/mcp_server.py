"""`akool mcp`: the tool as a Model Context Protocol server over stdio, for AI agents.

Pricing is separate from paying: `plan_video` checks everything and returns an estimate and a
`plan_id` without spending; `execute_plan` is the only tool that spends, at most once per plan,
within ten minutes, after re-checking the budget and the balance, and with the jobs in the history
before it answers. Same credentials, profiles, `--sandbox`, history and messages as the CLI.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from akool_cli.core.errors import AkoolError, UsageError
from akool_cli.flows.events import Collector

if TYPE_CHECKING:
    from akool_cli.context import App
    from akool_cli.flows.audio import AudioPlan
    from akool_cli.pricing.plan import Plan

PLAN_TTL_SECONDS = 600.0


@dataclass
class Planned:
    """One plan an agent may execute once: videos (one or several images), add-audio, or a delete."""

    kind: str  # "video", "add_audio" or "delete"
    created: float
    estimate: Any  # None for a delete (free)
    plan: "Plan | None" = None  # video: the checked options
    images: list[tuple[Any, str]] = field(default_factory=list)  # video: (LocalFile or URL, as given)
    audio: "AudioPlan | None" = None
    delete_ids: list[str] = field(default_factory=list)
    state: str = "planned"  # planned -> executing -> executed
    job_ids: list[str] = field(default_factory=list)


MAX_PLAN_IMAGES = 100


class Agent:
    """The tools' logic, apart from the protocol (tests call it directly as well)."""

    def __init__(self, state: "App", allow_dirs: list[Path], clock: Callable[[], float] = time.monotonic,
                 session_credits: int | None = None) -> None:
        self.state = state
        # Advice and "continue with" hints name tools, not command lines (the flows and the hint table
        # render commands through App.command).
        setattr(state, "command", agent_command)
        # Everything this server session may spend, over all its plans (with max_credits, the lower).
        self.session_credits = session_credits if session_credits is not None \
            else state.setting("mcp.session_credits")
        self.session_spent = 0
        self.allow_dirs = [d.resolve() for d in allow_dirs]
        self.clock = clock
        self.plans: dict[str, Planned] = {}
        self.lock = threading.Lock()  # one tool at a time: the history and the client are shared
        self.notes: list[str] = []  # the last tool's warnings (charged more than estimated, a job gone...)

    # ------------------------------------------------------------ free tools

    def known_values(self) -> dict[str, list[str]]:
        """The effect and model names the tool schemas offer: read from the local lists' caches (written by
        `akool effects`/`models` and by list_effects/list_models), never fetched, so start-up sends nothing.
        The names are advice to an agent's host; what the tools accept is checked by the same lookup as
        the CLI's (case, codes and unique prefixes), so a list newer than the cache still works."""
        from akool_cli.api.effects import EffectCache, ListCache, cache_file
        from akool_cli.api.models import AiModel

        state = self.state
        base = state.paths.cache_dir
        effects = EffectCache(cache_file(base, state.base_url), 0.0).load(allow_stale=True) or []
        models = ListCache(cache_file(base, state.base_url, "models"), 0.0, AiModel.from_api,
                           "models").load(allow_stale=True) or []
        return {"effect": sorted({e.name for e in effects} | {e.effect_code for e in effects}),
                "model": sorted({m.value for m in models})}

    def list_effects(self) -> list[dict[str, Any]]:
        return [{"name": e.name, "effect_code": e.effect_code, "preview": e.video_url} for e in self.state.effects()]

    def list_models(self) -> list[dict[str, Any]]:
        return [{"model": m.value, "name": m.label, "provider": m.provider,
                 "resolutions": {r.value: r.unit_credit for r in m.resolutions}, "lengths": m.durations,
                 "generate_audio": m.audio_multiplier is not None, "last_frame": m.last_frame,
                 "max_variants": m.max_count, "pro": m.is_pro} for m in self.state.models()]

    def get_balance(self) -> dict[str, Any]:
        return {"credit": self.state.client().balance(), "target": self.state.target_label}

    def estimate_cost(self, model: str | None, resolution: str | None, length: int | None, count: int,
                      generate_audio: bool) -> dict[str, Any]:
        from akool_cli.pricing.plan import CreateOptions, plan_create

        planned = plan_create(CreateOptions(model=model, resolution=resolution, length=length,
                                            count=count if model else None, generate_audio=generate_audio),
                              self.state.plan_defaults())
        estimate = self._observed(planned.estimate)
        return {**estimate.to_dict(), "target": self.state.target_label}

    def job_status(self, ids: list[str]) -> list[dict[str, Any]]:
        from akool_cli.core.validation import check_ids
        from akool_cli.output.views import job_record

        wanted = check_ids(ids)
        if not wanted:
            raise UsageError("no job ids given", hint="pass the ids execute_plan returned")
        from akool_cli.flows.wait import fetch_jobs

        jobs = fetch_jobs(self.state.client(), wanted)  # one request per 500 ids (fewer if the service caps them)
        self.state.history().update_from_jobs(jobs)
        found = {j.id for j in jobs}
        missing = [{"_id": i, "status_name": "not known to the service"} for i in wanted if i not in found]
        return [job_record(j, self.state.history().get(j.id)) for j in jobs] + missing

    def list_history(self, limit: int, status: str | None) -> list[dict[str, Any]]:
        from akool_cli.api.models import status_from_name
        from akool_cli.output.views import entry_record

        statuses = []
        if status:
            try:
                statuses = [status_from_name(status)]
            except ValueError:
                raise UsageError(f"unknown status '{status}'",
                                 hint="use queueing, processing, completed or failed") from None
        return [entry_record(e) for e in self.state.history().recent(max(1, min(limit, 1000)), statuses)]

    # ------------------------------------------------------------ plan, then pay

    def _observed(self, estimate: Any) -> Any:
        if self.state.paths.history_file.exists():
            return estimate.with_observed(self.state.history().observed_charges(estimate.key, self.state.base_url))
        return estimate

    def plan_video(self, image: str | None, effect: str | None, prompt: str | None, negative_prompt: str | None,
                   model: str | None, resolution: str | None, length: int | None, count: int | None,
                   last_frame: str | None, generate_audio: bool, images: list[str] | None = None) -> dict[str, Any]:
        from akool_cli.api.uploads import check_image
        from akool_cli.pricing.plan import CreateOptions, placeholder, plan_create, with_image

        sources = _images(image, images)
        planned = plan_create(CreateOptions(effect=effect, prompt=prompt, negative_prompt=negative_prompt,
                                            resolution=resolution, length=length, model=model, count=count,
                                            last_frame=last_frame, generate_audio=generate_audio),
                              self.state.plan_defaults())
        checked = [(check_image(source), source) for source in sources]
        estimate = self._observed(planned.estimate)
        requests = [with_image(planned, one if isinstance(one, str) else placeholder(one)).to_body()
                    for one, _ in checked]
        plan_id = self._keep(Planned("video", self.clock(), estimate, plan=planned, images=checked))
        return {"plan_id": plan_id, "requests": requests, "estimate": _total(estimate, len(checked)),
                **self._plan_footer("create the video(s)")}

    def plan_add_audio(self, job_id: str, audio: str | None, ai_audio: bool) -> dict[str, Any]:
        from akool_cli.flows.audio import plan_add_audio

        audio_plan = plan_add_audio(self.state.deps(), job_id, audio, ai_audio)
        estimate = self._observed(audio_plan.estimate)
        plan_id = self._keep(Planned("add_audio", self.clock(), estimate, audio=audio_plan))
        return {"plan_id": plan_id, "requests": [audio_plan.request.to_body()], "estimate": estimate.to_dict(),
                **self._plan_footer("add the audio (a new job)")}

    def plan_delete(self, job_ids: list[str]) -> dict[str, Any]:
        from akool_cli.core.validation import check_ids

        wanted = check_ids(job_ids)
        if not wanted:
            raise UsageError("no job ids given", hint="pass the ids to delete")
        history = self.state.history()
        jobs = []
        for job_id in wanted:
            entry = history.get(job_id)
            jobs.append({"_id": job_id, "status_name": entry.status_name if entry else "not in this machine's history",
                         "local_path": entry.local_path if entry else None})
        plan_id = self._keep(Planned("delete", self.clock(), None, delete_ids=wanted))
        return {"plan_id": plan_id, "delete": jobs, "estimate": None, "target": self.state.target_label,
                "expires_in_seconds": int(PLAN_TTL_SECONDS), "spent": 0,
                "next": "show the user which videos will be deleted for good, then call execute_plan with this "
                        "plan_id; nothing was deleted yet"}

    def _keep(self, planned: Planned) -> str:
        plan_id = "plan_" + secrets.token_hex(8)
        self.plans[plan_id] = planned
        return plan_id

    def _plan_footer(self, what: str) -> dict[str, Any]:
        return {"balance": self.state.live_balance(), "target": self.state.target_label,
                "expires_in_seconds": int(PLAN_TTL_SECONDS), "spent": 0,
                "next": f"call execute_plan with this plan_id to {what}; nothing was spent"}

    def execute_plan(self, plan_id: str) -> dict[str, Any]:
        """The only tool that spends or deletes: once per plan, within its lifetime, budget and balance
        re-checked by the gate."""
        planned = self.plans.get(plan_id)
        if planned is None:
            raise UsageError(f"unknown plan '{plan_id}'", hint="call plan_video first; plans live in this server only")
        if planned.state != "planned":
            raise UsageError(f"plan {plan_id} was already executed (jobs {', '.join(planned.job_ids) or 'unknown'}); "
                             "nothing was spent again", hint="follow its jobs with wait_for_jobs or job_status")
        if self.clock() - planned.created > PLAN_TTL_SECONDS:
            raise UsageError(f"plan {plan_id} expired ({PLAN_TTL_SECONDS / 60:.0f} minutes)",
                             hint="plan again: prices and the balance may have changed")
        if planned.kind == "delete":
            planned.state = "executed"
            return self._delete(plan_id, planned)
        order = self._video_order(planned) if planned.kind == "video" else self._audio_order(planned)
        return self._pay(plan_id, planned, order)

    def _video_order(self, planned: Planned) -> Any:
        from akool_cli.commands.steps import caps_for
        from akool_cli.flows.pay import PayOrder, record_in_history, sending
        from akool_cli.flows.submit import Submission, upload_inputs
        from akool_cli.pricing.plan import with_image

        state, plan = self.state, planned.plan
        assert plan is not None
        subs = [Submission(source, with_image(plan, image if isinstance(image, str) else ""),
                           None if isinstance(image, str) else image) for image, source in planned.images]
        audio = plan.audio if not isinstance(plan.audio, str) else None
        last = plan.last_frame if not isinstance(plan.last_frame, str) else None
        local = [s.image for s in subs if s.image is not None] + [f for f in (audio, last) if f is not None]

        def upload(uploader: Any, subs: list[Submission]) -> None:
            upload_inputs(uploader, subs, audio, last)

        def spend_once(_estimates: list[Any]) -> None:
            planned.state = "executing"  # from here the plan is spent, whatever happens: never twice

        client = state.client()
        return PayOrder(
            title="execute_plan", rows=[], submissions=subs, estimates=[planned.estimate] * len(subs),
            send=sending(client.create_batch if plan.model else client.create_video),
            record=record_in_history(state.history(shared=True), kind="create", base_url=state.base_url,
                                     profile=state.profile, clock=state.runtime.clock,
                                     model=plan.model.value if plan.model else None),
            local_files=local, caps=caps_for(state, None, session=self.session_credits),
            yes=True, spent_before=self.session_spent, split_probe=True, upload=upload, prepare=spend_once,
            grace=float(state.setting("timeout")) + 5)

    def _audio_order(self, planned: Planned) -> Any:
        from dataclasses import replace as copy

        from akool_cli.commands.steps import caps_for
        from akool_cli.flows.audio import audio_order

        assert planned.audio is not None
        order = audio_order(self.state.deps(), planned.audio, yes=True, title="execute_plan",
                            caps=caps_for(self.state, None, session=self.session_credits),
                            spent_before=self.session_spent)

        def spend_once(_estimates: list[Any]) -> None:
            planned.state = "executing"

        return copy(order, rows=[], prepare=spend_once)

    def _pay(self, plan_id: str, planned: Planned, order: Any) -> dict[str, Any]:
        from akool_cli.commands.steps import paid

        def count(result: Any) -> None:  # before any error: what was charged counts against the session
            self.session_spent += result.guard.spent_here
            planned.job_ids = [job.id for job in result.report.jobs]

        try:
            result = paid(self.state, order, output=None, after=count)
        finally:
            if planned.state == "executing":
                planned.state = "executed"
        report = result.report
        planned.job_ids = [job.id for job in report.jobs]
        if not report.jobs:
            from akool_cli.output.outcomes import worst_error

            raise worst_error(report)
        return {"plan_id": plan_id, "job_ids": planned.job_ids, "estimate": result.estimate.to_dict(),
                "charged": sum(j.deduction_credit or 0 for j in report.jobs),
                "session_spent": self.session_spent, "session_credits": self.session_credits,
                "errors": [e.message for _, e in report.errors],
                "next": "call wait_for_jobs with these ids, then download_video"}

    def _delete(self, plan_id: str, planned: Planned) -> dict[str, Any]:
        from akool_cli.flows.delete import delete_jobs

        done = delete_jobs(self.state.deps(), planned.delete_ids)
        planned.job_ids = list(planned.delete_ids)
        refused = {r.id: r.msg for r in done.result.refused}
        return {"plan_id": plan_id,
                "deleted": [i for i in done.wanted if i in done.result.success_ids or i in done.already],
                "refused": [{"_id": i, "msg": refused.get(i, "no answer for this id")} for i in done.not_deleted],
                "next": ("a video still processing can be deleted once it has finished: plan_delete again then"
                         if done.busy else "nothing else to do")}

    def wait_for_jobs(self, ids: list[str], timeout: float,
                      on_progress: Callable[[int, int, str], None] | None = None) -> list[dict[str, Any]]:
        """`on_progress(final, total, message)` after each poll: the tool's progress notifications."""
        from akool_cli.commands.steps import wait_jobs
        from akool_cli.core.errors import WaitTimeoutError
        from akool_cli.core.validation import check_ids
        from akool_cli.output.views import job_record

        wanted = check_ids(ids)
        if not wanted:
            raise UsageError("no job ids given", hint="pass the ids execute_plan returned")
        events = self.state.events
        if on_progress is not None and isinstance(events, Collector):
            def tick(jobs: dict[str, Any], elapsed: float) -> None:
                final = sum(1 for job in jobs.values() if job.is_final)
                on_progress(final, len(wanted), f"{final} of {len(wanted)} job(s) final after {elapsed:.0f} s")
            events.on_poll = tick
        try:
            latest = wait_jobs(self.state, wanted, max(1.0, min(float(timeout), 3600.0)))
        except WaitTimeoutError as error:
            error.hint = "the jobs go on; call wait_for_jobs again with the same ids"
            raise
        return [job_record(latest[i]) for i in wanted if i in latest]

    def download_video(self, job_id: str, path: str) -> dict[str, Any]:
        from akool_cli.api.models import JobStatus
        from akool_cli.core.validation import check_ids
        from akool_cli.flows.fetch import download

        found_ids = check_ids([job_id])
        wanted = found_ids[0] if found_ids else None
        if wanted is None:
            raise UsageError("no job id given", hint="pass a job id")
        target = self._allowed(path)
        answered = self.state.client().results([wanted])
        job = answered[0] if answered else None
        if job is None:
            raise UsageError(f"job {wanted} is not known to the service", hint="check the id with job_status")
        if job.status != JobStatus.COMPLETED or not job.video_url:
            raise UsageError(f"job {wanted} is {job.status_name}; nothing to download yet",
                             hint="call wait_for_jobs first")
        size = download(self.state.client(), job.video_url, target, force=False)
        self.state.history().mark_downloaded(wanted, target)
        return {"_id": wanted, "path": str(target), "bytes": size}

    def _allowed(self, text: str) -> Path:
        if not self.allow_dirs:
            raise UsageError("downloads are not allowed: the server was started without --allow-dir",
                             hint="restart it with: akool mcp --allow-dir DIR")
        from akool_cli.core.validation import local_path

        path = local_path(text)
        if not path.is_absolute():
            path = self.allow_dirs[0] / path
        if path.suffix == "":
            path = path.with_suffix(".mp4")
        resolved = path.parent.resolve() / path.name
        if not any(resolved.parent == d or d in resolved.parent.parents for d in self.allow_dirs):
            raise UsageError(f"'{text}' is outside the allowed folder(s)",
                             hint="save inside: " + ", ".join(str(d) for d in self.allow_dirs))
        resolved.parent.mkdir(parents=True, exist_ok=True)
        return resolved


def _images(image: str | None, images: list[str] | None) -> list[str]:
    sources = ([image] if image else []) + list(images or [])
    if not sources:
        raise UsageError("no image given", hint="pass image (one) or images (several)")
    if len(sources) > MAX_PLAN_IMAGES:
        raise UsageError(f"{len(sources)} images in one plan; at most {MAX_PLAN_IMAGES}",
                         hint="split them into several plans")
    return sources


def _total(estimate: Any, images: int) -> dict[str, Any]:
    """One image's estimate for every image: what execute_plan may spend at most."""
    from akool_cli.flows.pay import combined

    return combined([estimate] * images).to_dict()


# The CLI flags an error may name, as the tool parameters an agent has.
FLAG_PARAMS = {"-r": "resolution", "-l": "length", "-n": "count", "-e": "effect", "-m": "model", "-o": "path"}


def agent_command(*args: str) -> str:
    """What an agent should do where a person would run `akool ARGS`: a tool call, or ask the user."""
    import shlex

    from akool_cli.core.validation import is_job_id

    ids = [a for a in args if is_job_id(a)]
    verb = args[0] if args else ""
    if verb == "status" and ids:
        return f"call wait_for_jobs with job_ids {json.dumps(ids)} (free)"
    if verb == "status":
        return "call job_status or list_history (free)"
    if verb == "history":
        return "call list_history (free)"
    if verb == "download" and ids:
        return f"call download_video with job_id {ids[0]} (free)"
    return "ask the user to run: " + shlex.join(["akool", *args])


def for_agent(text: str) -> str:
    """CLI flags in a message become the tools' parameter names (`--negative-prompt` -> negative_prompt)."""
    import re

    text = text.replace("akool models", "list_models").replace("akool effects", "list_effects")
    text = re.sub(r"(?<![\w-])(-[rlnemo])\b", lambda m: FLAG_PARAMS[m.group(1)], text)
    return re.sub(r"(?<![\w-])--([a-z][a-z-]+)", lambda m: m.group(1).replace("-", "_"), text)


def tool_error(error: AkoolError) -> Exception:
    from mcp.server.mcpserver.exceptions import ToolError

    text = f"error: {for_agent(error.message)}" + (f"; {for_agent(error.hint)}" if error.hint else "") + \
        f" (exit code {int(error.exit_code)})"
    return ToolError(text)


def guard_tool(agent: Agent, func: Callable[..., Any]) -> Callable[..., Any]:
    """One tool at a time; every error a tool error with secrets scrubbed, never a traceback."""
    def call(**kwargs: Any) -> Any:
        from akool_cli.flows.events import Collector

        with agent.lock:
            collector = Collector()
            agent.state.events = collector  # what the flows say goes into this tool's result, not stderr
            agent.notes = []
            try:
                result = func(**kwargs)
                agent.notes = collector.warnings + [e.message for e in collector.errors]
                return result
            except AkoolError as error:
                from akool_cli.output.hints import complete

                scrubbed = complete(error, agent.state.command)
                for secret in agent.state.secrets():
                    scrubbed.message = scrubbed.message.replace(secret, "****")
                    scrubbed.hint = (scrubbed.hint or "").replace(secret, "****") or None
                raise tool_error(scrubbed) from None
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # noqa: BLE001 - an agent gets a message, never a traceback
                raise tool_error(AkoolError(f"unexpected {type(exc).__name__}", "this is a bug")) from None
    return call


def build_server(agent: Agent) -> Any:
    from mcp.server.mcpserver import MCPServer

    from akool_cli import __version__

    server = MCPServer("akool", version=__version__, log_level="ERROR", instructions=(
        "Turn still images into short videos with Akool. Free: list_effects, list_models, get_balance, "
        "estimate_cost, job_status, list_history, plan_video, plan_add_audio, plan_delete. Only execute_plan "
        "spends credits or deletes, once per plan: always plan first and show the user the estimate (or the "
        "videos to delete), then execute_plan, wait_for_jobs and download_video."))

    def guarded(func: Callable[..., Any]) -> Callable[..., Any]:
        return guard_tool(agent, func)

    from akool_cli.mcp_tools import register_tools

    register_tools(server, agent, guarded, agent.known_values())
    return server


def serve(state: "App", allow_dirs: list[Path], session_credits: int | None = None) -> None:
    """Run over stdio. stdout belongs to the protocol: everything the CLI would print goes to stderr."""
    import sys

    from akool_cli.context import App

    runtime = replace(state.runtime, stdout=sys.stderr, stdout_tty=False, stdin_tty=False)
    app = App(runtime, profile_flag=state.profile_flag, sandbox=state.sandbox, verbose=state.verbose)
    app.limit_time(None)  # a server for as long as the agent wants; each tool call's requests are bounded
    agent = Agent(app, allow_dirs, session_credits=session_credits)
    app.history(shared=True)  # tools may run on the SDK's worker threads
    build_server(agent).run("stdio")
