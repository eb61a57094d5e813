"""The CLI's side of the paid and waiting commands (create, status, add-audio, download, batch):
build a flow's dependencies from the `App`, run the flow, and hand its result to the output layer.
Flows never print; these steps are where their results meet the renderer and the exit code."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, ContextManager, Iterable

from akool_cli.api.models import RESOURCE_TTL_TEXT, Job, JobStatus
from akool_cli.context import App
from akool_cli.core.errors import (
    AkoolError,
    ApiError,
    Declined,
    JobFailedError,
    OutcomeUnknownError,
    TransportError,
    UsageError,
    WaitTimeoutError,
)
from akool_cli.flows.fetch import OutputTarget, save_jobs, template_fields
from akool_cli.flows.wait import wait
from akool_cli.output.outcomes import continue_command, halted_error, price_notes, stopped_error, worst_error
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

    history = state.history()
    ceiling = int(state.concurrency_ceiling or state.setting("concurrency"))
    account = f"{state.base_url} {state.profile}"  # one account: the same service and profile name everywhere

    def slot() -> "ContextManager[None]":
        from akool_cli.core import signals

        return history.slot(account, ceiling, lambda: signals.stop_requested() is not None,
                            grace=float(state.setting("request_deadline")))

    return PayDeps(history=history, uploader=state.uploader, balance=state.live_balance, confirm=confirm,
                   profile=state.profile, base_url=state.base_url, clock=state.runtime.clock, slot=slot)


def ask_first(state: App, question: str, *, yes: bool, action: str, refused: str) -> None:
    """Something that cannot be undone (a delete, a prune): asked on a terminal, --yes in scripts; never a
    hang where nobody can answer. `refused`: what a "no" leaves untouched."""
    from akool_cli.core.errors import Declined, UsageError

    if yes:
        return
    if not state.runtime.stdin_tty:
        raise UsageError(f"{action} needs confirmation and there is no terminal to ask on",
                         hint="pass --yes in scripts and CI")
    if not state.confirm(question):
        raise Declined(f"you answered no; {refused}")


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
         after: "Callable[[PayResult], None] | None" = None,
         follow: "Callable[[], str] | None" = None) -> "PayResult":
    """The CLI's side of the one gate: run it, then say what happened to every request.
    `go_on`: how to send what the guard held back, at the new price (a command that pays only for those).
    `after`: run on the result before any error is raised (a batch settles its journal there).
    `follow`: the free command that follows what was created, for an order with its own (a batch's run);
    by default `status --wait` with every job's id."""
    from akool_cli.core.errors import OverBalanceError
    from akool_cli.flows.pay import pay

    try:
        result = pay(pay_deps(state), order)
    except OverBalanceError as broke:
        if state.is_sandbox:  # play money: nothing to top up, the sandbox starts afresh
            broke.hint = (f"the sandbox's credits ran out; reset it (free): {state.command('sandbox', 'stop')}, "
                          "then akool sandbox --fresh (Ctrl-C once it has started), or give it more with --balance N")
        raise
    if after is not None:
        after(result)
    if callable(go_on):
        go_on = go_on()
    way_on = follow() if follow is not None else None
    report = result.report
    if follow is None:  # a journaled batch keeps its own hint (batch resume RUN), not a line of every id
        ids = [job.id for _, job in report.created]
        state.resume_hint = (f"{len(ids)} paid job(s) are in the history; continue with: "
                             f"{state.command('status', '--wait', *ids)}") if ids else None
    events = state.deps().events
    for sub, job, error in report.unrecorded:
        events.warn(f"{sub.source}: job {job.id} was created but could NOT be written to the history "
                            f"({error.message}); note its id; follow it (free) with: {state.command('status', '--wait', job.id)}")
    lone = not report.created and not report.unrecorded and len(report.errors) == 1
    if not lone:  # a lone failure is the command's own error, printed once at the end
        for sub, error in report.errors:
            events.error(AkoolError(f"{sub.source}: {error.message}", error.hint))
    for note in price_notes(result):
        events.warn(note)
    if report.stopped is not None:
        raise stopped_error(state.command, report, output, way_on)
    held_back = halted_error(state.command, result, output, go_on, way_on)
    if held_back is not None:
        raise held_back
    return result


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
                   f"{continue_command(state.command, ids, output)}"
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


def observed(state: App, estimate: Estimate) -> Estimate:
    """The estimate with this profile's own charges, read only where a history already exists."""
    if not state.paths.history_file.exists():
        return estimate
    return estimate.with_observed(state.history().observed_charges(estimate.key, state.base_url))


def check_uploads(state: App, local_files: int) -> None:
    """A dry run with local files: the uploader must be ready (else the same error as a real run, before
    anything is sent), and the user is told where the files would go. Nothing is uploaded."""
    if not local_files:
        return
    uploader = state.uploader()
    uploader.ready()
    state.renderer.info(f"{local_files} local file(s) would be uploaded with {uploader.describe()}; "
                        "a dry run uploads nothing")


def show_dry_run(state: App, bodies: list[dict[str, Any]], estimate: Estimate, form: str) -> None:
    """What would be sent (stdout: the request bodies, JSON) and what it would cost (stderr for people,
    in the record for machines); nothing is sent."""
    import json

    from akool_cli.output.writers import record_view

    estimate = observed(state, estimate)
    each = f" ({estimate.describe(1)} x {estimate.count})" if estimate.count > 1 else ""
    if form == "table":
        state.renderer.info(f"Estimated cost: {estimate.describe()}{each} ({estimate.sources}); "
                            f"target: {state.target_label}; dry run, nothing was sent.")
    state.renderer.show(record_view({"requests": bodies, "estimate": estimate.to_dict(), "target": state.target_label,
                                     "sent": False}, text=json.dumps(bodies, indent=2)), form)


def wait_jobs(state: App, ids: list[str], timeout: float | None, *, fresh: bool = False,
              output: str | None = None) -> dict[str, Job]:
    """Poll until the jobs are final (flows.wait), with the free command to resume in every error."""
    resume_cmd = continue_command(state.command, ids, output)
    state.resume_hint = f"the job(s) go on and are in the history; resume with: {resume_cmd}"
    try:
        latest, gone = wait(state.deps(), ids, timeout, fresh=fresh)
    except WaitTimeoutError as error:
        error.hint = f"the jobs go on; check later with: {continue_command(state.command, error.pending, output)}"
        raise
    except (TransportError, ApiError) as error:
        # The jobs exist and are paid for: say so, or the user may create them again.
        resume = f"the job(s) exist and are in the history; resume with: {resume_cmd}"
        error.hint = f"{error.hint}; {resume}" if error.hint else resume
        raise
    for job_id in gone:
        gone_warned(state).add(job_id)
        state.deps().events.warn(f"job {job_id} is not known to the service (deleted, or made with other "
                                 "credentials)")
    return latest


def download_jobs(state: App, jobs: Iterable[Job], target: OutputTarget) -> dict[str, Path]:
    """Save every completed job (flows.fetch). A job that could not be saved is an error naming the
    free command that saves it later: -o never ends with exit 0 and a missing file."""
    jobs = list(jobs)
    todo = [job.id for job in jobs if job.status != JobStatus.FAILED]
    if todo:
        state.resume_hint = f"the video(s) are paid for and in the history; save them (free) with: " \
                            f"{state.command('download', *todo, '-o', str(target.path))}"
    result = save_jobs(state.deps(), jobs, target)
    if not result.failures:
        return result.paths

    def retry(job: Job, path: Path) -> str:
        if job.downloadable:
            return state.command("download", job.id, "-o", str(path))
        return state.command("status", "--wait", job.id, "-o", str(path))

    for job, failure, path in result.failures[1:]:
        state.renderer.error(AkoolError(f"job {job.id}: {failure.message}", f"save it (free) with: {retry(job, path)}"))
    job, first, path = result.failures[0]
    first.message = f"job {job.id}: {first.message}"
    first.hint = (f"nothing was saved at '{path}'; the job is paid for and in the history; "
                  f"save it (free) with: {retry(job, path)}")
    raise first


def warn_expiry(state: App, job: Job) -> None:
    if job.expires_at is None:
        return
    left = job.expires_at - state.runtime.clock()
    if left <= 0:
        state.renderer.warn(f"the files of job {job.id} are past their expiry ({RESOURCE_TTL_TEXT}) and may be gone")
    elif left < EXPIRY_WARNING_SECONDS:
        state.renderer.warn(f"the files of job {job.id} expire in {left / 3600:.0f} h; save them now")


def emit_jobs(state: App, jobs: list[Job], *, fmt: str, single: bool = False,
              saved: dict[str, Path] | None = None, extra: list[dict[str, Any]] | None = None,
              title: str | None = None) -> None:
    """Jobs on stdout through the output layer. `single`: one job as one JSON object (create IMAGE)."""
    from akool_cli.output.views import jobs_view

    saved = saved or {}
    history = state.history()
    entries = history.get_many(job.id for job in jobs)
    view = jobs_view(jobs, entries, saved, state.runtime.clock(), title)
    view.single = single and len(jobs) == 1 and not extra  # create IMAGE --json: one object
    if extra and fmt in ("json", "jsonl"):
        view.records = list(view.machine()) + extra
    state.renderer.show(view, fmt)


def gone_warned(state: App) -> set[str]:
    """Ids already reported as unknown to the service in this command (said once, not twice)."""
    return state.__dict__.setdefault("_gone_warned", set())


def check_final(jobs: list[Job]) -> None:
    failed = [job.id for job in jobs if job.status == JobStatus.FAILED]
    if failed:
        said = ", ".join(f"{job.id} ({job.failure_reason})" if job.failure_reason else job.id
                         for job in jobs if job.status == JobStatus.FAILED)
        raise JobFailedError(f"{len(failed)} job(s) failed: {said}",
                             hint="failed jobs are usually not charged; check with: akool status " + " ".join(failed))
