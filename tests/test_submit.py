"""submit_all at its seam: bounded concurrency, answers recorded as they come, every failure contained,
and stopping (a real signal to this process, the guard's halt, the grace deadline) without losing a job."""

from __future__ import annotations

import itertools
import os
import signal
import threading
import time
from typing import Any

import pytest

from akool_cli.api.models import BatchItemError, BatchResult, CreateRequest, Job
from akool_cli.core import signals
from akool_cli.core.errors import AkoolError, ApiError, OutcomeUnknownError
from akool_cli.flows.submit import Submission, SubmitReport, submit_all
from akool_cli.pricing.budget import Refused

IDS = itertools.count(1)


def _job() -> Job:
    return Job(id=f"{next(IDS):024x}", status=1, deduction_credit=20)


def _subs(n: int) -> list[Submission]:
    return [Submission(f"img{i}", CreateRequest(image_url=f"https://e.com/{i}.png", prompt="p", negative_prompt="",
                                                resolution="720p", video_length=5), row=i + 1) for i in range(n)]


def _recorder() -> tuple[list[tuple[str, str]], Any]:
    seen: list[tuple[str, str]] = []
    return seen, lambda sub, job: seen.append((sub.source, job.id))


@pytest.fixture
def handlers():
    """Akool's signal handlers on this (main) thread for the test, the previous ones back after."""
    saved = {s: signal.getsignal(s) for s in signals.STOPPING}
    signals.reset()
    signals.install()
    yield
    for s, h in saved.items():
        signal.signal(s, h)
    signals.reset()


def test_answers_are_recorded_as_they_come_and_reported_in_submission_order():
    recorded = [threading.Event() for _ in range(3)]

    def create(sub: Submission) -> Job:
        request = sub.request
        n = int(request.image_url.split("/")[-1].split(".")[0])
        if n < 2:
            assert recorded[n + 1].wait(5)  # image 2 is answered first, then 1, then 0
        return _job()

    seen: list[str] = []

    def record(sub: Submission, job: Job) -> None:
        seen.append(sub.source)
        recorded[int(sub.source[3:])].set()

    report = submit_all(create, _subs(3), 3, record)
    assert seen == ["img2", "img1", "img0"]
    assert [sub.source for sub, _ in report.created] == ["img0", "img1", "img2"]
    assert not report.outcome_unknown and report.stopped is None and len(report.jobs) == 3


def test_at_most_workers_requests_at_once():
    now, most, lock = [0], [0], threading.Lock()

    def create(sub: Submission) -> Job:
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        time.sleep(0.02)
        with lock:
            now[0] -= 1
        return _job()

    report = submit_all(create, _subs(8), 2, lambda s, j: None)
    assert most[0] <= 2 and len(report.created) == 8


def test_a_refused_request_was_not_sent():
    def create(sub: Submission) -> Job:
        request = sub.request
        if request.image_url.endswith("1.png"):
            raise Refused("budget")
        return _job()

    report = submit_all(create, _subs(3), 1, lambda s, j: None)
    assert [s.source for s in report.not_sent] == ["img1"] and len(report.created) == 2 and not report.errors


def test_a_halt_cancels_what_has_not_started():
    sent: list[str] = []
    halt = threading.Event()

    def create(sub: Submission) -> Job:
        request = sub.request
        sent.append(request.image_url)
        halt.set()
        time.sleep(0.05)
        return _job()

    report = submit_all(create, _subs(5), 1, lambda s, j: None, halted=halt.is_set)
    assert len(sent) < 5 and len(report.created) == len(sent)
    assert [s.source for s in report.not_sent] == [f"img{i}" for i in range(len(sent), 5)]  # in order


def test_errors_are_contained_to_their_submission():
    def create(sub: Submission) -> Any:
        request = sub.request
        n = request.image_url.split("/")[-1]
        if n == "0.png":
            raise ApiError(1003, "bad")
        if n == "1.png":
            raise ValueError("odd answer")
        return _job()

    report = submit_all(create, _subs(3), 2, lambda s, j: None)
    errors = {sub.source: error for sub, error in report.errors}
    assert isinstance(errors["img0"], ApiError) and not isinstance(errors["img0"], OutcomeUnknownError)
    assert isinstance(errors["img1"], OutcomeUnknownError) and "ValueError" in errors["img1"].message
    assert "NOT sent again" in errors["img1"].message and len(report.created) == 1 and report.outcome_unknown


def test_a_job_the_history_cannot_take_is_kept_with_its_reason():
    def record(sub: Submission, job: Job) -> None:
        if sub.source == "img0":
            raise OSError("disk full")
        if sub.source == "img1":
            raise AkoolError("history locked")

    report = submit_all(lambda r: _job(), _subs(3), 1, record)
    reasons = {sub.source: error.message for sub, _, error in report.unrecorded}
    assert reasons == {"img0": "OSError: disk full", "img1": "history locked"}
    assert len(report.created) == 1 and report.outcome_unknown and len(report.jobs) == 3


def test_a_batch_answer_s_jobs_and_its_error_list():
    answer = BatchResult([_job(), _job()], [BatchItemError(2, 1015, "try again"), BatchItemError(None, None, "x")])
    report = submit_all(lambda r: answer, _subs(1), 1, lambda s, j: None)
    assert len(report.created) == 2
    messages = [(e.code, e.message) for _, e in report.errors]
    assert messages == [(1015, "API error 1015: variant 3: try again"), (0, "API error 0: a variant: x")]


def test_a_signal_stops_sending_and_keeps_every_answer(handlers):
    sent: list[str] = []

    def create(sub: Submission) -> Job:
        request = sub.request
        sent.append(request.image_url)
        if len(sent) == 1:
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # still in flight when the signal is noticed
        return _job()

    seen, record = _recorder()
    report = submit_all(create, _subs(4), 1, record)
    assert report.stopped == signal.SIGTERM
    assert len(sent) == 1 and len(seen) == 1 and [s.source for s in report.not_sent] == ["img1", "img2", "img3"]
    assert signals.stop_requested() is None  # consumed: the caller reports it, not deferred()


def test_an_answer_that_outlives_the_grace_is_in_doubt(handlers):
    release = threading.Event()
    clock = [0.0]

    def create(sub: Submission) -> Job:
        os.kill(os.getpid(), signal.SIGINT)
        release.wait(5)
        return _job()

    def monotonic() -> float:
        clock[0] += 1.0  # every look at the clock is a second later
        return clock[0]

    report = submit_all(create, _subs(2), 1, lambda s, j: None, grace=3.0, monotonic=monotonic)
    release.set()
    assert report.stopped == signal.SIGINT and [s.source for s in report.in_doubt] == ["img0"]
    assert [s.source for s in report.not_sent] == ["img1"] and report.outcome_unknown


def test_an_empty_report_knows_nothing_unknown():
    report = SubmitReport()
    assert not report.outcome_unknown and report.jobs == []
