"""Steps shared by create, status, add-audio and download: confirm, wait, download, report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from akool_cli.context import App
from akool_cli.download import check_target, download
from akool_cli.errors import ApiError, Interrupted, JobFailedError, TransportError, UsageError
from akool_cli.models import RESOURCE_TTL_SECONDS, Job, JobStatus
from akool_cli.pricing import Estimate
from akool_cli.render import human_bytes
from akool_cli.validation import local_path
from akool_cli.waiting import PollPolicy, resume_command, wait_for_jobs

EXPIRY_WARNING_SECONDS = 24 * 3600


def confirm_spend(state: App, rows: list[tuple[str, str]], estimate: Estimate, *, yes: bool, title: str) -> None:
    """Show what will be spent; ask on a terminal; never hang where nobody can answer."""
    if yes:
        return
    state.renderer.estimate_panel(rows, estimate, title)
    if not state.runtime.stdin_tty:
        raise UsageError(f"this would spend about {estimate.total} credits and there is no terminal to confirm on",
                         hint="pass --yes to confirm in scripts and CI, or --dry-run to see the request")
    if not state.confirm(f"Spend about {estimate.total} credits?"):
        raise Interrupted("cancelled; nothing was sent", hint="pass --yes to skip this question")


def show_dry_run(state: App, bodies: list[dict[str, Any]], estimate: Estimate, json_out: bool) -> None:
    """What would be sent and what it would cost; nothing is sent."""
    if json_out:
        state.renderer.json({"requests": bodies, "estimate": estimate.to_dict(), "sent": False})
        return
    import json

    state.renderer.line(json.dumps(bodies, indent=2))
    each = f" ({estimate.per_item} x {estimate.count})" if estimate.count > 1 else ""
    state.renderer.line(f"Estimated cost: {estimate.total} credits{each}; dry run, nothing was sent.")


@dataclass
class OutputTarget:
    """Where -o puts videos: one file, or a folder with one <id>.mp4 a job."""

    path: Path
    is_dir: bool
    force: bool

    @classmethod
    def folder(cls, text: str, force: bool) -> "OutputTarget":
        path = local_path(text)
        if path.exists() and not path.is_dir():
            raise UsageError(f"-o '{text}' is a file, but several videos need a folder",
                             hint="pass a folder path for -o")
        return cls(path, True, force)

    @classmethod
    def parse(cls, text: str, count: int, force: bool) -> "OutputTarget":
        path = local_path(text)
        if path.is_dir() or text.endswith(("/", "\\")) or count > 1:
            return cls.folder(text, force)
        check_target(path, force)
        return cls(path, False, force)

    def for_job(self, job_id: str) -> Path:
        if self.is_dir:
            self.path.mkdir(parents=True, exist_ok=True)
            return self.path / f"{job_id}.mp4"
        return self.path


def poll_policy(state: App, timeout: float | None) -> PollPolicy:
    return PollPolicy(interval=float(state.setting("poll_interval")),
                      max_interval=float(state.setting("poll_max_interval")), timeout=timeout)


def wait_jobs(state: App, ids: list[str], timeout: float | None) -> dict[str, Job]:
    history = state.history()
    client = state.client()
    state.resume_hint = f"the job(s) go on and are in the history; resume with: {resume_command(ids)}"

    def fetch(pending: list[str]) -> list[Job]:
        jobs = client.results(pending)
        history.update_from_jobs(jobs)
        return jobs

    try:
        with state.renderer.polling("Waiting for " + (ids[0] if len(ids) == 1 else f"{len(ids)} jobs")) as update:
            latest, gone = wait_for_jobs(fetch, ids, poll_policy(state, timeout), sleep=state.runtime.sleep,
                                         monotonic=state.runtime.monotonic, on_update=update)
    except (TransportError, ApiError) as error:
        # The jobs exist and are paid for: say so, or the user may create them again.
        resume = f"the job(s) exist and are in the history; resume with: {resume_command(ids)}"
        error.hint = f"{error.hint}; {resume}" if error.hint else resume
        raise
    for job_id in gone:
        state.renderer.warn(f"job {job_id} is not known to the service (deleted?)")
    return latest


def download_jobs(state: App, jobs: Iterable[Job], target: OutputTarget) -> dict[str, Path]:
    saved: dict[str, Path] = {}
    client = state.client()
    for job in jobs:
        if job.status != JobStatus.COMPLETED or not job.video_url:
            continue
        path = target.for_job(job.id)
        state.resume_hint = f"nothing was saved at '{path}'; run: akool download {job.id} -o {path}"
        with state.renderer.transfer(f"Downloading {path.name}") as (on_start, on_chunk):
            size = download(client, job.video_url, path, force=target.force, on_start=on_start, on_chunk=on_chunk)
        state.history().mark_downloaded(job.id, path.resolve())
        state.renderer.info(f"saved {path} ({human_bytes(size)})")
        saved[job.id] = path
    return saved


def warn_expiry(state: App, job: Job) -> None:
    if not job.create_time:
        return
    left = job.create_time / 1000 + RESOURCE_TTL_SECONDS - state.runtime.clock()
    if left <= 0:
        state.renderer.warn(f"the files of job {job.id} are past their 7-day expiry and may be gone")
    elif left < EXPIRY_WARNING_SECONDS:
        state.renderer.warn(f"the files of job {job.id} expire in {left / 3600:.0f} h; save them now")


def job_json(job: Job, saved: dict[str, Path]) -> dict[str, Any]:
    out = dict(job.raw)
    if job.id in saved:
        out["local_path"] = str(saved[job.id])
    return out


def emit_jobs(state: App, jobs: list[Job], *, json_out: bool, quiet: bool, single: bool,
              saved: dict[str, Path] | None = None, extra: list[dict[str, Any]] | None = None,
              title: str | None = None) -> None:
    saved = saved or {}
    if json_out:
        items = [job_json(job, saved) for job in jobs] + (extra or [])
        state.renderer.json(items[0] if single and len(items) == 1 else items)
    elif quiet:
        for job in jobs:
            state.renderer.line(job.id)
    else:
        entries = {job.id: e for job in jobs if (e := state.history().get(job.id))}
        state.renderer.jobs_table(jobs, entries, title)


def check_final(jobs: list[Job]) -> None:
    failed = [job.id for job in jobs if job.status == JobStatus.FAILED]
    if failed:
        raise JobFailedError(f"{len(failed)} job(s) failed: {', '.join(failed)}",
                             hint="failed jobs are usually not charged; check with: akool status " + " ".join(failed))
