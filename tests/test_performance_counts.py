"""Counts behind the performance targets (never timings): requests per tick, creates in flight, connections."""

from __future__ import annotations

import pytest

from akool_cli.api.models import Job
from akool_cli.flows.wait import PollPolicy, wait_for_jobs

URL = "https://example.com/cat.png"


@pytest.mark.parametrize("n", [1, 10, 100])
def test_one_request_per_tick_whatever_the_number_of_jobs(n):
    clock = [0.0]
    calls: list[list[str]] = []

    def fetch(ids: list[str]) -> list[Job]:
        calls.append(list(ids))
        # Job i finishes at t = i seconds, so the pending set shrinks over time.
        return [Job(i, 3 if clock[0] >= int(i) % 20 else 2) for i in ids]

    ids = [str(i) for i in range(n)]
    wait_for_jobs(fetch, ids, PollPolicy(interval=1, max_interval=2), sleep=lambda s: clock.__setitem__(0, clock[0] + s),
                  monotonic=lambda: clock[0])
    assert calls[0] == ids  # every job in the first request
    assert all(len(set(c)) == len(c) for c in calls)  # no id twice in a request
    assert len(calls) <= 14  # ticks, not jobs, decide the number of requests


def test_backoff_bounds_a_three_minute_job():
    clock = [0.0]
    sleeps: list[float] = []

    def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        clock[0] += seconds

    wait_for_jobs(lambda ids: [Job(ids[0], 3 if clock[0] >= 180 else 1)], ["x"], PollPolicy(), sleep=sleep,
                  monotonic=lambda: clock[0])
    assert sleeps[:3] == [2.0, 3.0, 4.5] and max(sleeps) == 15.0
    assert len(sleeps) + 1 <= 20


def test_cli_wait_polls_all_jobs_in_each_request(online, sandbox):
    result = online("create", *[f"{URL}?{i}" for i in range(5)], "--yes", "--wait", "-q", "--concurrency", "5")
    assert result.exit_code == 0
    polls = [set(body["_ids"].split(",")) for body in sandbox.bodies("results")]
    assert polls[0] == set(result.stdout.split())
    assert all(later <= earlier for earlier, later in zip(polls, polls[1:]))  # only the pending ones, shrinking


def test_one_connection_for_a_whole_wait_loop(online, sandbox):
    sandbox.reset()
    result = online("create", URL, "--effect", "squish", "--yes", "--wait")
    assert result.exit_code == 0
    stats = sandbox.stats()
    assert stats["requests"]["results"] >= 2
    assert stats["connections"] == 1 + 1  # the CLI's one, and this stats call's own
