"""Submitting paid requests: uploads first, then bounded concurrency, each job recorded as it is answered."""

from __future__ import annotations

import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Iterator

from akool_cli.api.models import AddAudioRequest, BatchRequest, BatchResult, CreateRequest, Job, answer_jobs
from akool_cli.api.uploads import LocalFile, Uploader
from akool_cli.core import signals
from akool_cli.core.errors import AkoolError, ApiError, OutcomeUnknownError
from akool_cli.pricing.plan import placeholder

if TYPE_CHECKING:
    from akool_cli.pricing.prices import Estimate


@dataclass(slots=True)  # a big batch holds 100,000 of them: no per-object dict
class Submission:
    source: str  # what the user typed: a URL or a path
    request: "CreateRequest | BatchRequest | AddAudioRequest"
    image: LocalFile | None = None  # a local file, uploaded before anything is created
    row: int | None = None  # a manifest's row (batch run), or the image's place in a create
    key: str | None = None  # a manifest row's identity (batch run)
    first_index: int = 1  # the first variant's number (a probe split a request in two)
    output: str | None = None  # a manifest row's own output template (batch run)
    # This request's estimate: planned with it (a batch row), then priced and paired by the gate (flows.pay)
    # before anything is sent. What a worker needs about its request travels with it, not in a map.
    estimate: "Estimate | None" = None
    seq: int = 0  # its place in the order (submit_all): answers come in any order, reports keep this one

    def estimated(self) -> "Estimate":
        """Its estimate, which the gate pairs with it before it can be sent."""
        if self.estimate is None:
            raise AssertionError(f"{self.source}: sent before the gate priced it")
        return self.estimate


def plan(sources: list[str], checked: list[LocalFile | str],
         template: CreateRequest | BatchRequest) -> list[Submission]:
    return [Submission(source, replace(template, image_url=item if isinstance(item, str) else placeholder(item)),
                       None if isinstance(item, str) else item, row=n)
            for n, (source, item) in enumerate(zip(sources, checked), start=1)]


def upload_inputs(uploader: Uploader, submissions: list[Submission], audio: LocalFile | None,
                  last_frame: LocalFile | None = None) -> None:
    """All uploads before the first create: a failed upload must leave nothing half paid for. `last_frame`:
    a model's closing image, shared by every request (only a model's request has last_image_url)."""
    audio_url = uploader.upload(audio) if audio is not None else None
    last_url = uploader.upload(last_frame) if last_frame is not None else None
    for sub in submissions:
        if last_url is not None:
            setattr(sub.request, "last_image_url", last_url)
        if audio_url is not None:
            setattr(sub.request, "audio_url", audio_url)  # a create's or an add-audio's
        if sub.image is not None:
            setattr(sub.request, "image_url", uploader.upload(sub.image))


@dataclass
class SubmitReport:
    """What happened to each submission. Every job in `created` is in the history."""

    created: list[tuple[Submission, Job]] = field(default_factory=list)
    errors: list[tuple[Submission, AkoolError]] = field(default_factory=list)
    # Answered with a job, but the history could not take it: its id must be shown to the user.
    unrecorded: list[tuple[Submission, Job, AkoolError]] = field(default_factory=list)
    not_sent: list[Submission] = field(default_factory=list)  # never left this machine (stopped first)
    in_doubt: list[Submission] = field(default_factory=list)  # still unanswered when we stopped waiting
    stopped: int | None = None  # the signal that stopped the submission
    # A batch keeps its answers in the journal and the history: the report keeps each job's id, status and
    # charge, not the whole answer (100,000 answers held whole are most of a big run's memory).
    slim: bool = False

    @property
    def jobs(self) -> list[Job]:
        return [job for _, job in self.created] + [job for _, job, _ in self.unrecorded]

    @property
    def outcome_unknown(self) -> bool:
        return bool(self.in_doubt or self.unrecorded) or any(
            isinstance(e, OutcomeUnknownError) for _, e in self.errors)


def collect_answer(report: SubmitReport, sub: Submission, future: "Future[Any]",
                   record: Callable[[Submission, Job], None]) -> None:
    """One finished request into the report: its jobs recorded one by one, every error contained."""
    from akool_cli.pricing.budget import Refused

    try:
        answer = future.result()
    except Refused:
        report.not_sent.append(sub)
        return
    except AkoolError as error:
        # Kept without its traceback: the worker's frames (requests, answers) must not outlive it; a run of
        # 100,000 failed rows would otherwise hold every one of them.
        report.errors.append((sub, error.with_traceback(None)))
        error.__context__ = error.__cause__ = None
        return
    except Exception as exc:  # noqa: BLE001 - one odd answer must not lose the others
        report.errors.append((sub, OutcomeUnknownError(
            f"the answer could not be read ({type(exc).__name__}); the job may or may not exist "
            "and it was NOT sent again", reason="created-unknown")))
        return
    for job in answer_jobs(answer):  # a batch answer holds several jobs: each one is recorded on its own
        try:
            record(sub, job)
        except Exception as exc:  # noqa: BLE001 - the job exists: say so, whatever the disk did
            failure = exc if isinstance(exc, AkoolError) else AkoolError(f"{type(exc).__name__}: {exc}")
            report.unrecorded.append((sub, job, failure))
            continue
        report.created.append((sub, job.slim() if report.slim else job))
    if isinstance(answer, BatchResult):
        for item in answer.errors:  # partial success inside one paid call
            where = f"variant {item.index + 1}" if item.index is not None else "a variant"
            report.errors.append((sub, ApiError(item.code or 0, f"{where}: {item.msg}")))


def _numbered(submissions: list[Submission]) -> Iterator[Submission]:
    """The submissions in order, each told its place as it is taken (the report is sorted by it)."""
    for seq, sub in enumerate(submissions):
        sub.seq = seq
        yield sub


def submit_all(create: Callable[[Submission], Any], submissions: list[Submission], workers: int,
               record: Callable[[Submission, Job], None], *, grace: float = 60.0,
               monotonic: Callable[[], float] = time.monotonic,
               halted: Callable[[], bool] = lambda: False, slim: bool = False) -> SubmitReport:
    """Send every request once, at most `workers` at a time, and record each job the moment its
    answer arrives (in whatever order answers come).

    Stopping signals (Ctrl-C, twice or more, SIGTERM, SIGHUP) are held meanwhile: requests not yet
    sent are cancelled, those in flight are waited for (up to `grace` seconds) and recorded, and the
    caller learns which signal came in `stopped`. Every error is contained to its own submission.

    `create` gets the submission (it sends its request) and may raise budget.Refused instead of
    sending: that submission was not sent. Once `halted()` (the spending guard stopped: a budget, a
    price, a job the history could not take), requests not yet started are cancelled as for a signal."""
    report = SubmitReport(slim=slim)
    queue = _numbered(submissions)
    pool = ThreadPoolExecutor(max_workers=workers)
    # At most `workers` requests exist at a time (on the wire or about to be): the next one is handed to
    # the pool only when one has been answered, so the wire never holds more than --concurrency, the
    # work per answer is constant however long the list, and memory holds `workers` futures.
    pending: "dict[Future[Any], Submission]" = {}

    def refill() -> None:
        while len(pending) < workers:
            sub = next(queue, None)
            if sub is None:
                return
            pending[pool.submit(create, sub)] = sub

    def cancel_rest() -> None:
        for future in list(pending):
            if future.cancel():
                report.not_sent.append(pending.pop(future))
        report.not_sent.extend(queue)  # never handed to the pool: never sent

    try:
        with signals.deferred():
            refill()
            deadline: float | None = None
            stopping = False
            while pending:
                done, _ = wait(list(pending), timeout=0.05, return_when=FIRST_COMPLETED)
                for future in done:
                    collect_answer(report, pending.pop(future), future, record)
                if not stopping and halted():
                    stopping = True
                    cancel_rest()
                if report.stopped is None and signals.stop_requested() is not None:
                    report.stopped = signals.take()
                    stopping = True
                    cancel_rest()
                    deadline = monotonic() + grace
                elif report.stopped is not None:
                    signals.take()  # a second Ctrl-C: already stopping, keep recording
                if deadline is not None and monotonic() > deadline:
                    report.in_doubt = list(pending.values())
                    break
                if not stopping:
                    refill()
            if report.stopped is None:
                report.stopped = signals.take()
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    report.created.sort(key=lambda pair: pair[0].seq)  # stable: a batch's variants keep their order
    report.not_sent.sort(key=lambda sub: sub.seq)
    return report
