"""Steps shared by create, status, add-audio and download: confirm, wait, download, report."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable

from akool_cli.api.models import RESOURCE_TTL_SECONDS, Job, JobStatus
from akool_cli.context import App
from akool_cli.core.errors import (
    AkoolError,
    ApiError,
    Declined,
    Interrupted,
    JobFailedError,
    OutcomeUnknownError,
    OverBudgetError,
    PartialError,
    PriceChangedError,
    TransportError,
    UsageError,
    WaitTimeoutError,
)
from akool_cli.core.validation import local_path
from akool_cli.flows.fetch import check_target, download
from akool_cli.flows.wait import PollPolicy, wait_for_jobs
from akool_cli.output.render import human_bytes
from akool_cli.pricing.prices import Estimate

if TYPE_CHECKING:
    from akool_cli.flows.pay import PayDeps, PayOrder, PayResult
    from akool_cli.flows.submit import SubmitReport
    from akool_cli.pricing.budget import Caps

EXPIRY_WARNING_SECONDS = 24 * 3600


def caps_for(state: App, max_credits: int | None, session: int | None = None) -> "Caps":
    """The budgets of this command: --max-credits (else the profile's), and the profile's windows."""
    from akool_cli.pricing.budget import Caps

    limit = max_credits if max_credits is not None else state.setting("max_credits")
    if session is not None:
        limit = session if limit is None else min(int(limit), session)
    return Caps(limit, state.setting("budget.daily"), state.setting("budget.monthly"))


def pay_deps(state: App) -> "PayDeps":
    from akool_cli.flows.pay import PayDeps

    def confirm(order: "PayOrder", estimate: Estimate, balance: float | None) -> None:
        confirm_spend(state, order.rows, estimate, yes=order.yes, title=order.title, balance=balance)

    return PayDeps(history=state.history(), uploader=state.uploader, balance=state.live_balance, confirm=confirm,
                   profile=state.profile, base_url=state.base_url, clock=state.runtime.clock)


def confirm_spend(state: App, rows: list[tuple[str, str]], estimate: Estimate, *, yes: bool, title: str,
                  balance: float | None = None) -> None:
    """Show what will be spent; ask on a terminal; never hang where nobody can answer."""
    if yes:
        return
    rows = rows + [("Estimate from", estimate.sources)]
    if balance is not None:
        rows.append(("Balance", f"{balance:g} credits"))
    state.renderer.estimate_panel(rows + [("Target", state.target_label)], estimate, title)
    amount = estimate.describe()
    if not state.runtime.stdin_tty:
        raise UsageError(f"this would spend {amount} and there is no terminal to confirm on",
                         hint="pass --yes to confirm in scripts and CI, or --dry-run to see the request")
    if not state.confirm(f"Spend {'up to ' + str(estimate.high) + ' credits' if estimate.is_range else amount}?"):
        raise Declined("you answered no; nothing was sent")


def paid(state: App, order: "PayOrder", *, output: str | None,
         go_on: "str | Callable[[], str] | None" = None,
         after: "Callable[[PayResult], None] | None" = None) -> "PayResult":
    """The CLI's side of the one gate: run it, then say what happened to every request.
    `go_on`: how to send what the guard held back, at the new price (a command that pays only for those).
    `after`: run on the result before any error is raised (a batch settles its journal there)."""
    from akool_cli.flows.pay import pay

    result = pay(pay_deps(state), order)
    if after is not None:
        after(result)
    if callable(go_on):
        go_on = go_on()
    report = result.report
    ids = [job.id for _, job in report.created]
    state.resume_hint = (f"{len(ids)} paid job(s) are in the history; continue with: "
                         f"{state.command('status', '--wait', *ids)}") if ids else None
    for sub, job, error in report.unrecorded:
        state.renderer.warn(f"{sub.source}: job {job.id} was created but could NOT be written to the history "
                            f"({error.message}); note its id; follow it (free) with: {state.command('status', '--wait', job.id)}")
    lone = not report.created and not report.unrecorded and len(report.errors) == 1
    if not lone:  # a lone failure is the command's own error, printed once at the end
        for sub, error in report.errors:
            state.renderer.error(AkoolError(f"{sub.source}: {error.message}", error.hint))
    say_prices(state, result)
    if report.stopped is not None:
        raise stopped_error(state, report, output)
    held_back = halted_error(state, result, output, go_on)
    if held_back is not None:
        raise held_back
    return result


def say_prices(state: App, result: "PayResult") -> None:
    """Any charge different from the estimate, said once per price key."""
    for _key, charged, low, high in result.guard.price_seen:
        expected = f"{low}" if low == high else f"{low}-{high}"
        state.renderer.warn(f"charged {charged} credits a video where {expected} were estimated; the next estimate "
                            "for the same settings uses what you were charged")


def halted_error(state: App, result: "PayResult", output: str | None, go_on: str | None) -> AkoolError | None:
    """The guard stopped sending: one error that says why, what exists, and the free way on."""
    from akool_cli.pricing.budget import HALT_BUDGET, HALT_CAP, HALT_PRICE, HALT_UNRECORDED

    report, guard = result.report, result.guard
    if guard.halt is None and guard.crossed:  # a lone job billed above its estimate, past the budget
        ids = [job.id for job in report.jobs]
        return PriceChangedError(
            f"the budget of {guard.caps.max_credits} was crossed: {guard.spent} credits charged where "
            f"{result.estimate.describe()} were estimated ({result.estimate.sources})",
            hint=f"job(s) {', '.join(ids)} are in the history; continue (free) with: {continue_command(state, ids, output)}")
    if guard.halt is None or (not report.not_sent and guard.halt != HALT_UNRECORDED and not guard.crossed):
        return None
    ids = [job.id for job in report.jobs]
    held = (f"{len(report.not_sent)} request(s) were not sent: "
            + ", ".join(dict.fromkeys(s.source for s in report.not_sent))) if report.not_sent else "nothing else was sent"
    have = (f"job(s) {', '.join(ids)} are in the history; continue (free) with: "
            f"{continue_command(state, ids, output)}") if ids else "no job was created"
    if guard.halt == HALT_UNRECORDED:
        return OutcomeUnknownError(f"{guard.detail}; nothing more was sent; {held}",
                                   hint=f"note the id(s) {', '.join(ids)}; follow them (free) with: "
                                        f"{continue_command(state, ids, output)}; then free the disk or fix the "
                                        "history file before paying for more")
    estimate = result.estimate
    if guard.halt == HALT_CAP:
        return OverBudgetError(f"stopped at {guard.detail}; {held}", hint=have)
    spent = f"{guard.spent_here} credits charged so far"
    extra = f"; to go on at the new price (only what was not sent): {go_on}" if go_on else ""
    limit = guard.caps.max_credits
    if limit is not None and guard.crossed:
        spent += f"; the budget of {limit} was crossed by {guard.spent - limit}"
    if guard.halt == HALT_PRICE:
        return PriceChangedError(f"{guard.detail} ({estimate.sources}); {held}; {spent}", hint=have + extra)
    assert guard.halt == HALT_BUDGET
    return PriceChangedError(f"stopped before crossing the budget: {guard.detail}; {held}", hint=have + extra)


def stopped_error(state: App, report: "SubmitReport", output: str | None) -> Interrupted:
    from akool_cli.core.signals import label as signal_label

    label = signal_label(report.stopped or 2)
    ids = [job.id for _, job in report.created]
    parts = [f"{label} while submitting"]
    parts.append(f"{len(ids)} paid job(s) are in the history ({', '.join(ids)})" if ids
                 else "no job was created")
    if report.not_sent:
        parts.append(f"{len(report.not_sent)} image(s) were not sent: " + ", ".join(s.source for s in report.not_sent))
    if report.in_doubt:
        parts.append(f"{len(report.in_doubt)} request(s) got no answer and may have created jobs: "
                     + ", ".join(s.source for s in report.in_doubt))
    hint = f"continue (free) with: {continue_command(state, ids, output)}" if ids else \
        "check with: " + state.command("status") + " before sending anything again"
    return Interrupted("; ".join(parts), hint=hint, signum=report.stopped)


def continue_command(state: App, ids: list[str], output: str | None) -> str:
    """The free command that picks up where a paid command stopped: wait, and save with -o."""
    if output:
        return state.command("status", "--wait", *ids, "-o", output)
    return state.command("status", "--wait", *ids)


def template_fields(report: "SubmitReport") -> dict[str, dict[str, Any]]:
    """The -o template's values for each job: its source, row, variant and settings."""
    from pathlib import PurePath

    fields: dict[str, dict[str, Any]] = {}
    rows: dict[int, int] = {}
    variants: dict[int, int] = {}
    for sub, job in report.created:
        row = rows.setdefault(id(sub), len(rows) + 1)
        variants[id(sub)] = variants.get(id(sub), sub.first_index - 1) + 1
        request = sub.request
        stem = PurePath(sub.source.split("?")[0].rstrip("/")).stem or "video"
        row = sub.row or row
        fields[job.id] = {"stem": stem, "row": row, "key": getattr(sub, "key", None) or stem,
                          "index": variants[id(sub)], "effect": job.effect_name or getattr(request, "effect_code", None),
                          "model": getattr(request, "model_name", None), "resolution": getattr(request, "resolution", None),
                          "length": getattr(request, "video_length", None)}
    return fields


def finish_paid(state: App, report: "SubmitReport", *, wait: bool, target: "OutputTarget | None",
                timeout: float | None, fmt: str, single: bool, output: str | None,
                title: str | None = None) -> None:
    """After the paid requests: wait, download, print, and pick the exit code (9 wins)."""
    created = report.jobs
    if target is not None and target.template is not None:
        target.fields.update(template_fields(report))
    if not created:
        raise worst_error(report)
    ids = [job.id for job in created]
    saved: dict[str, Path] = {}
    final = created
    try:
        if wait or target:
            latest = wait_jobs(state, ids, timeout, fresh=True, output=output)
            final = [latest.get(job.id, job) for job in created]
            if target:
                saved = download_jobs(state, final, target)
    except AkoolError as error:
        # The jobs exist and are paid for: every error from here on names them and the free way on.
        if not any(job_id in (error.hint or "") for job_id in ids):
            more = f"the paid job(s) {', '.join(ids)} are in the history; continue with: " \
                   f"{continue_command(state, ids, output)}"
            error.hint = f"{error.hint}; {more}" if error.hint else more
        if report.outcome_unknown:
            raise OutcomeUnknownError(error.message, error.hint) from None
        raise
    extra = [{"image": sub.source, "error": {"message": e.message, "exit_code": int(e.exit_code)}}
             for sub, e in report.errors]
    emit_jobs(state, final, fmt=fmt, single=single, saved=saved, extra=extra, title=title)
    if report.outcome_unknown or report.errors:
        raise worst_error(report)
    if wait or target:
        check_final(final)


def worst_error(report: "SubmitReport") -> AkoolError:
    """One error for a submission's failures. An outcome we cannot know (exit 9) wins over all."""
    total = len(report.created) + len(report.unrecorded) + len(report.errors) + len(report.in_doubt)
    if report.outcome_unknown:
        unknown = [e for _, e in report.errors if isinstance(e, OutcomeUnknownError)]
        if len(report.errors) == 1 and unknown and not report.created and not report.unrecorded:
            return unknown[0]
        return OutcomeUnknownError(
            f"{len(report.errors) + len(report.unrecorded) + len(report.in_doubt)} of {total} paid request(s) "
            "may have created jobs the history cannot account for; nothing was sent again",
            hint="check with 'akool status' and 'akool history' before creating anything again")
    if not report.created and len(report.errors) == 1:
        return report.errors[0][1]
    return PartialError(f"{len(report.errors)} of {total} video(s) were not created",
                        hint="the others are in the history; see the errors above")


def observed(state: App, estimate: Estimate) -> Estimate:
    """The estimate with this profile's own charges, read only where a history already exists."""
    if not state.paths.history_file.exists():
        return estimate
    return estimate.with_observed(state.history().observed_charges(estimate.key, state.base_url))


def show_dry_run(state: App, bodies: list[dict[str, Any]], estimate: Estimate, json_out: bool) -> None:
    """What would be sent and what it would cost; nothing is sent."""
    estimate = observed(state, estimate)
    if json_out:
        state.renderer.json({"requests": bodies, "estimate": estimate.to_dict(), "target": state.target_label,
                             "sent": False})
        return
    import json

    state.renderer.line(json.dumps(bodies, indent=2))
    each = f" ({estimate.describe(1)} x {estimate.count})" if estimate.count > 1 else ""
    state.renderer.line(f"Estimated cost: {estimate.describe()}{each} ({estimate.sources}); "
                        f"target: {state.target_label}; dry run, nothing was sent.")


@dataclass
class OutputTarget:
    """Where -o puts videos: one file, a folder with one <id>.mp4 a job, or a name template
    (`out/{stem}-{index}.mp4`, see akool_cli.flows.naming) whose collisions get a suffix, never overwrite."""

    path: Path
    is_dir: bool
    force: bool
    template: str | None = None
    fields: dict[str, dict[str, Any]] = field(default_factory=dict)  # per job id: the template's values
    claims: Any = None
    assigned: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def folder(cls, text: str, force: bool) -> "OutputTarget":
        path = local_path(text)
        if path.exists() and not path.is_dir():
            raise UsageError(f"-o '{text}' is a file, but several videos need a folder",
                             hint="pass a folder path for -o")
        return cls(path, True, force)

    @classmethod
    def parse(cls, text: str, count: int, force: bool) -> "OutputTarget":
        from akool_cli.flows.naming import NameClaims, check_template, is_template

        if is_template(text):
            return cls(local_path(text), False, force, check_template(text), claims=NameClaims())
        path = local_path(text)
        if path.is_dir() or text.endswith(("/", "\\")) or count > 1:
            return cls.folder(text, force)
        check_target(path, force)
        return cls(path, False, force)

    def for_job(self, job_id: str) -> Path:
        if self.template is not None:
            if job_id not in self.assigned:
                import time as _time

                from akool_cli.flows.naming import render

                values = {"id": job_id, "date": _time.strftime("%Y-%m-%d"), "index": 1, "row": 1,
                          **self.fields.get(job_id, {})}
                path = render(str(local_path(self.template)), values)
                path.parent.mkdir(parents=True, exist_ok=True)
                self.assigned[job_id] = path if self.force else self.claims.claim(path)
            return self.assigned[job_id]
        if self.is_dir:
            self.path.mkdir(parents=True, exist_ok=True)
            return self.path / f"{job_id}.mp4"
        return self.path


# Against anything but this machine's loopback (the sandbox), polls are at least this far apart.
REMOTE_MIN_POLL = 1.0


def poll_policy(state: App, timeout: float | None) -> PollPolicy:
    floor = 0.0 if state.is_loopback else REMOTE_MIN_POLL
    interval = max(float(state.setting("poll_interval")), floor)
    return PollPolicy(interval=interval, max_interval=max(float(state.setting("poll_max_interval")), interval),
                      timeout=timeout)


def wait_jobs(state: App, ids: list[str], timeout: float | None, *, fresh: bool = False,
              output: str | None = None) -> dict[str, Job]:
    """Poll until the jobs are final. `fresh`: we just created them, so an id the service does not
    list yet is waited for (within --timeout), never declared gone."""
    history = state.history()
    client = state.client()
    resume_cmd = continue_command(state, ids, output)
    state.resume_hint = f"the job(s) go on and are in the history; resume with: {resume_cmd}"

    def fetch(pending: list[str]) -> list[Job]:
        jobs = client.results(pending)
        history.update_from_jobs(jobs)
        return jobs

    try:
        with state.renderer.polling("Waiting for " + (ids[0] if len(ids) == 1 else f"{len(ids)} jobs")) as update:
            latest, gone = wait_for_jobs(fetch, ids, poll_policy(state, timeout), sleep=state.runtime.sleep,
                                         monotonic=state.runtime.monotonic, on_update=update,
                                         fresh=set(ids) if fresh else set())
    except WaitTimeoutError as error:
        error.hint = f"the jobs go on; check later with: {continue_command(state, error.pending, output)}"
        raise
    except (TransportError, ApiError) as error:
        # The jobs exist and are paid for: say so, or the user may create them again.
        resume = f"the job(s) exist and are in the history; resume with: {resume_cmd}"
        error.hint = f"{error.hint}; {resume}" if error.hint else resume
        raise
    for job_id in gone:
        gone_warned(state).add(job_id)
        state.renderer.warn(f"job {job_id} is not known to the service (deleted, or made with other credentials)")
    return latest


def download_jobs(state: App, jobs: Iterable[Job], target: OutputTarget) -> dict[str, Path]:
    """Save every completed job. A job that could not be saved is an error naming the free command
    that saves it later: -o never ends with exit 0 and a missing file."""
    saved: dict[str, Path] = {}
    failures: list[tuple[Job, AkoolError, str]] = []
    client = state.client()
    for job in jobs:
        if job.status == JobStatus.FAILED:
            continue  # check_final reports it
        path = target.for_job(job.id)
        retry = state.command("download", job.id, "-o", str(path))
        if job.status != JobStatus.COMPLETED or not job.video_url:
            failures.append((job, TransportError(f"job {job.id} has no video to save yet ({job.status_name})"),
                             state.command("status", "--wait", job.id, "-o", str(path))))
            continue
        state.resume_hint = f"nothing was saved at '{path}'; save it (free) with: {retry}"
        try:
            with state.renderer.transfer(f"Downloading {path.name}") as (on_start, on_chunk):
                size = download(client, job.video_url, path, force=target.force, on_start=on_start,
                                on_chunk=on_chunk)
        except AkoolError as error:
            failures.append((job, error, retry))
            continue
        state.history().mark_downloaded(job.id, path.resolve())
        state.renderer.info(f"saved {path} ({human_bytes(size)})")
        saved[job.id] = path
    if failures:
        for job, failure, retry in failures[1:]:
            state.renderer.error(AkoolError(f"job {job.id}: {failure.message}", f"save it (free) with: {retry}"))
        job, first, retry = failures[0]
        first.message = f"job {job.id}: {first.message}"
        first.hint = (f"nothing was saved at '{target.for_job(job.id)}'; the job is paid for and in the history; "
                      f"save it (free) with: {retry}")
        raise first
    return saved


def warn_expiry(state: App, job: Job) -> None:
    if not job.create_time:
        return
    left = job.create_time / 1000 + RESOURCE_TTL_SECONDS - state.runtime.clock()
    if left <= 0:
        state.renderer.warn(f"the files of job {job.id} are past their 7-day expiry and may be gone")
    elif left < EXPIRY_WARNING_SECONDS:
        state.renderer.warn(f"the files of job {job.id} expire in {left / 3600:.0f} h; save them now")


def emit_jobs(state: App, jobs: list[Job], *, fmt: str, single: bool = False,
              saved: dict[str, Path] | None = None, extra: list[dict[str, Any]] | None = None,
              title: str | None = None) -> None:
    """Jobs on stdout through the output layer. `single`: one job as one JSON object (create IMAGE)."""
    from akool_cli.output.views import jobs_view

    saved = saved or {}
    history = state.history()
    entries = {job.id: e for job in jobs if (e := history.get(job.id))}
    view = jobs_view(jobs, entries, saved, state.runtime.clock(), title)
    if fmt == "json" and single and len(jobs) == 1 and not extra:
        state.renderer.json(list(view.machine())[0])
        return
    if extra and fmt in ("json", "jsonl"):
        view.records = list(view.machine()) + extra
    state.renderer.show(view, fmt)


def gone_warned(state: App) -> set[str]:
    """Ids already reported as unknown to the service in this command (said once, not twice)."""
    return state.__dict__.setdefault("_gone_warned", set())


def check_final(jobs: list[Job]) -> None:
    failed = [job.id for job in jobs if job.status == JobStatus.FAILED]
    if failed:
        raise JobFailedError(f"{len(failed)} job(s) failed: {', '.join(failed)}",
                             hint="failed jobs are usually not charged; check with: akool status " + " ".join(failed))
