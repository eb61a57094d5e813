"""Polling many jobs with one request per tick and a backing-off interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from akool_cli.api.models import Job
from akool_cli.core.errors import WaitTimeoutError

# After this many polls without the id in the answer, the job is taken as gone (deleted).
MISSING_LIMIT = 3


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
    fresh: set[str] | frozenset[str] = frozenset(),
) -> tuple[dict[str, Job], list[str]]:
    """Poll until every job is completed or failed. Returns (latest jobs, ids that vanished).

    An id missing from MISSING_LIMIT answers in a row is taken as gone (deleted), except a `fresh`
    one (just created, so it exists) that the service has not listed yet: that one is waited for."""
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
            if missing[job_id] >= MISSING_LIMIT and (job_id not in fresh or job_id in latest):
                gone.append(job_id)
        elapsed = monotonic() - started
        on_update(latest, elapsed)
        pending = [i for i in pending if i not in gone and not (i in latest and latest[i].is_final)]
        if not pending:
            return latest, gone
        if policy.timeout is not None and elapsed + delay > policy.timeout:
            error = WaitTimeoutError(f"gave up waiting after {elapsed:.0f} s; {len(pending)} job(s) still running",
                                     hint="the jobs go on; check later with: akool status --wait " + " ".join(pending))
            error.pending = pending
            raise error
        sleep(delay)
        delay = min(delay * policy.factor, policy.max_interval)
