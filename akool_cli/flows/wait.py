"""Polling many jobs with one request per tick and a backing-off interval."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Mapping

from akool_cli.api.models import Job
from akool_cli.core.errors import ApiAuthError, ApiError, TransportError, WaitTimeoutError

if TYPE_CHECKING:
    from akool_cli.flows.deps import Deps

# Ids per resultsByIds request. The vendor names no limit: a request names up to RESULTS_CHUNK_MAX (a
# 10,000-job tick is 20 requests), and a service that refuses that many, or lists fewer jobs than a request
# named while a smaller request lists them, is asked fewer at a time from then on (Results).
RESULTS_CHUNK_MAX = 500
# Against anything but this machine's loopback (the sandbox), polls are at least this far apart.
REMOTE_MIN_POLL = 1.0

# After this many polls in a row without the id in the answer, the job is taken as gone (deleted, or
# expired at the service) and reported, never resent. A job created moments ago (`fresh`) may not be
# listed at once: it gets FRESH_MISSING_LIMIT polls (minutes, with the back-off) before the same verdict.
MISSING_LIMIT = 3
FRESH_MISSING_LIMIT = 12


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

    An id missing from MISSING_LIMIT answers in a row is taken as gone (deleted), and a `fresh` one (just
    created, which the service may not list at once) after FRESH_MISSING_LIMIT: every wait ends.
    Each tick costs in proportion to the ids still pending, and nothing else."""
    pending = list(dict.fromkeys(ids))
    latest: dict[str, Job] = {}
    missing: dict[str, int] = {}
    gone: list[str] = []
    started = monotonic()
    delay = policy.interval
    while True:
        answered = {job.id: job for job in fetch(pending)}
        latest.update(answered)
        vanished = set()
        for job_id in pending:
            missing[job_id] = 0 if job_id in answered else missing.get(job_id, 0) + 1
            limit = FRESH_MISSING_LIMIT if job_id in fresh and job_id not in latest else MISSING_LIMIT
            if missing[job_id] >= limit:
                vanished.add(job_id)
        gone.extend(i for i in pending if i in vanished)
        elapsed = monotonic() - started
        on_update(latest, elapsed)
        pending = [i for i in pending if i not in vanished and not (i in latest and latest[i].is_final)]
        if not pending:
            return latest, gone
        if policy.timeout is not None and elapsed + delay > policy.timeout:
            # The caller adds the hint: only it knows the free command that picks these jobs up again.
            took = f"{elapsed:.0f}" if elapsed >= 10 else f"{elapsed:.1f}"
            error = WaitTimeoutError(f"gave up waiting after {took} s; {len(pending)} job(s) still running")
            error.pending = pending
            raise error
        sleep(delay)
        delay = min(delay * policy.factor, policy.max_interval)


def poll_policy(deps: "Deps", timeout: float | None) -> PollPolicy:
    floor = 0.0 if deps.is_loopback else REMOTE_MIN_POLL
    interval = max(float(deps.setting("poll_interval")), floor)
    return PollPolicy(interval=interval, max_interval=max(float(deps.setting("poll_max_interval")), interval),
                      timeout=timeout)


class Results:
    """resultsByIds over any number of ids, in as few requests as the service allows.

    A limit the vendor does not document must never make live jobs look gone. A request the service
    refuses (a business code, or an answer it would not give: too large, not the API) is split in halves;
    ids a request did not list are asked again in one request, and when that one lists some of them the
    service has a cap: the number the first request listed. Either way the smaller size stays for the
    rest of the command. An id missing from the second request too is missing (deleted, expired)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.size = RESULTS_CHUNK_MAX

    def __call__(self, ids: list[str], known: Mapping[str, Job] | None = None) -> list[Job]:
        jobs: list[Job] = []
        start = 0
        while start < len(ids):
            part = ids[start:start + self.size]  # the size may drop on the way: read it each time
            start += len(part)
            jobs += self._ask(part, known)
        return jobs

    def _ask(self, part: list[str], known: Mapping[str, Job] | None) -> list[Job]:
        try:
            jobs = self.client.results(part, known)
        except (ApiError, TransportError) as error:
            if len(part) == 1 or not _refused(error):
                raise
            self.size = min(self.size, len(part) // 2)
            return self(part, known)
        if not jobs or len(jobs) >= len(part):
            return jobs  # all listed, or none: asking the same ids again would tell nothing new
        # The ids left out, asked again in one request: listed nothing, they are missing (deleted, expired);
        # listed some, the service caps its answers at what the first request listed, and the rest are
        # asked that many at a time (each such request comes back whole; no recursion, whatever the cap).
        unlisted = _without(part, jobs)
        again = self.client.results(unlisted, known)
        if not again:
            return jobs
        cap = self.size = min(self.size, len(jobs))
        rest = _without(unlisted, again)
        return jobs + again + [job for i in range(0, len(rest), cap)
                               for job in self.client.results(rest[i:i + cap], known)]


def _without(ids: list[str], jobs: list[Job]) -> list[str]:
    listed = {job.id for job in jobs}
    return [i for i in ids if i not in listed]


def _refused(error: Exception) -> bool:
    """The service would not answer this request as asked (not: cannot be reached, or not now)."""
    if isinstance(error, ApiError):
        return not isinstance(error, ApiAuthError)  # a bad key is refused at any size
    return isinstance(error, TransportError) and error.sent and not error.retryable


def fetch_jobs(client: Any, ids: list[str]) -> list[Job]:
    """Every job of `ids`, asked in as few requests as the service allows (Results)."""
    return Results(client)(ids)


class Poller:
    """One polling tick: every chunk asked, and only the jobs that changed since the last tick written to the
    history (a long wait over 10,000 jobs rewrites nothing while nothing moves). A job whose answer did not
    change is the same Job as last tick (not parsed again)."""

    def __init__(self, client: Any, history: Any) -> None:
        self.results = Results(client)
        self.history = history
        self.latest: dict[str, Job] = {}
        self.seen: dict[str, tuple[Any, ...]] = {}

    def __call__(self, pending: list[str]) -> list[Job]:
        jobs = self.results(pending, self.latest)
        changed = []
        latest = self.latest
        for job in jobs:
            if latest.get(job.id) is job:
                continue  # the very answer of last tick
            latest[job.id] = job
            mark = (job.status, job.video_url, job.deduction_credit, job.failure_reason, job.cover_url)
            if self.seen.get(job.id) != mark:
                self.seen[job.id] = mark
                changed.append(job)
        if changed:
            self.history.update_from_jobs(changed)
        return jobs


def wait(deps: "Deps", ids: list[str], timeout: float | None, *, fresh: bool = False,
         on_tick: Callable[[dict[str, Job], float], None] | None = None,
         label: str | None = None) -> tuple[dict[str, Job], list[str]]:
    """The one poll loop of every command: each tick's answer goes to the history (one transaction),
    then to the progress display, then to `on_tick` (a batch settles rows and starts downloads there).
    `fresh`: we just created these jobs, so an id the service does not list yet is waited for."""
    fetch = Poller(deps.client(), deps.history())
    label = label or "Waiting for " + (ids[0] if len(ids) == 1 else f"{len(ids)} jobs")
    with deps.events.polling(label) as update:
        def tick(latest: dict[str, Job], elapsed: float) -> None:
            update(latest, elapsed)
            if on_tick is not None:
                on_tick(latest, elapsed)

        return wait_for_jobs(fetch, ids, poll_policy(deps, timeout), sleep=deps.sleep, monotonic=deps.monotonic,
                             on_update=tick, fresh=set(ids) if fresh else set())
