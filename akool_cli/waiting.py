"""Polling many jobs with one request per tick and a backing-off interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from akool_cli.errors import WaitTimeoutError
from akool_cli.models import Job

# After this many polls without the id in the answer, the job is taken as gone (deleted).
MISSING_LIMIT = 3


def resume_command(ids: list[str]) -> str:
    """What a user runs to pick up waiting on jobs that go on without us."""
    return "akool status --wait " + " ".join(ids)


@dataclass(frozen=True)
class PollPolicy:
    interval: float = 2.0
    max_interval: float = 15.0
    factor: float = 1.5
    timeout: float | None = None


def wait_for_jobs(
    fetch: Callable[[list[str]], list[Job]],
    ids: list[str],
    policy: PollPolicy,
    *,
    sleep: Callable[[float], None],
    monotonic: Callable[[], float],
    on_update: Callable[[dict[str, Job], float], None] = lambda jobs, elapsed: None,
) -> tuple[dict[str, Job], list[str]]:
    """Poll until every job is completed or failed. Returns (latest jobs, ids that vanished)."""
    pending = list(dict.fromkeys(ids))
    latest: dict[str, Job] = {}
    missing: dict[str, int] = {}
    gone: list[str] = []
    started = monotonic()
    delay = policy.interval
    while True:
        answered = {job.id: job for job in fetch(pending)}
        latest.update(answered)
        for job_id in pending:
            missing[job_id] = 0 if job_id in answered else missing.get(job_id, 0) + 1
            if missing[job_id] >= MISSING_LIMIT:
                gone.append(job_id)
        elapsed = monotonic() - started
        on_update(latest, elapsed)
        pending = [i for i in pending if i not in gone and not (i in latest and latest[i].is_final)]
        if not pending:
            return latest, gone
        if policy.timeout is not None and elapsed + delay > policy.timeout:
            raise WaitTimeoutError(
                f"gave up waiting after {elapsed:.0f} s; {len(pending)} job(s) still running",
                hint=f"the jobs go on; check later with: {resume_command(pending)}")
        sleep(delay)
        delay = min(delay * policy.factor, policy.max_interval)
