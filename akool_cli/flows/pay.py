"""The one spending gate: every paid request of every command and of `akool mcp` goes through `pay`.

Its order, top to bottom, the same for create, add-audio, batch run, batch resume and MCP:

1. the uploader (a local file needs one), checked before anything is asked or paid;
2. the history proven able to record every planned job (room reserved for them);
3. the price, as a range, with this profile's own charges first;
4. the budgets: `max_credits` (with what this command or session spent already), the daily and
   monthly caps of the profile, the balance; each against the HIGH figure;
5. the confirmation (a panel and a question on a terminal; `--yes` in scripts);
6. `prepare` (a batch journals its rows), then every upload;
7. the submission, through the spending guard (probe first, budgets per request, caps reserved in the
   history), each job recorded as it is answered; the first job the history cannot take stops it.

Nothing here prints: the question goes to `deps.confirm`; what happened is the returned PayResult.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, ContextManager

from akool_cli.api.models import BatchRequest, Job, answer_jobs
from akool_cli.core.errors import AkoolError, OutcomeUnknownError, OverBalanceError, OverBudgetError, TransportError
from akool_cli.flows.submit import Submission, SubmitReport, submit_all
from akool_cli.pricing.budget import HALT_UNREACHABLE, HALT_UNRECORDED, Caps, SpendGuard, Ticket, check_caps
from akool_cli.pricing.prices import Estimate

if TYPE_CHECKING:
    from akool_cli.api.uploads import LocalFile, Uploader
    from akool_cli.store.history import History


UNREACHABLE_STOP = 3  # requests in a row that never reached the service before the rest are held back


@dataclass
class PayDeps:
    """What the gate needs from the outside world, and nothing more."""

    history: "History"
    uploader: "Callable[[], Uploader]"
    balance: Callable[[], float | None]
    # Show the order and its estimate and ask; raises Declined/UsageError when the answer is no.
    confirm: "Callable[[PayOrder, Estimate, float | None], None]"
    profile: str
    base_url: str
    clock: Callable[[], float]
    # Held around each paid request while it is on the wire: one of the account's `concurrency` slots on a
    # shared ledger (every machine counts), nothing on this machine's own store.
    slot: "Callable[[], ContextManager[None]]" = contextlib.nullcontext


@dataclass
class PayOrder:
    title: str
    rows: list[tuple[str, str]]  # what the panel shows before the estimate
    submissions: list[Submission]
    estimates: list[Estimate]  # one per submission; count = the jobs that request makes
    send: Callable[[Submission], Any]  # the paid call for one submission, in a worker thread (see `sending`)
    record: Callable[[Submission, Job, Estimate], None]  # a job into the history, as answered
    local_files: "list[LocalFile]" = field(default_factory=list)
    caps: Caps = field(default_factory=Caps)
    workers: int = 1
    yes: bool = False
    accept_price_change: bool = False
    spent_before: int = 0  # an MCP session's spend so far: max_credits bounds the session
    split_probe: bool = False  # a multi-variant request may be split to send one variant first
    upload: "Callable[[Uploader, list[Submission]], None] | None" = None
    prepare: Callable[[list[Estimate]], None] | None = None  # after the confirmation, before uploads
    grace: float = 35.0
    keep_answers: bool = True  # False: the report keeps each job's facts only (a batch has its journal)


@dataclass
class PayResult:
    report: SubmitReport
    guard: SpendGuard
    estimate: Estimate  # the whole order's


def combined(estimates: list[Estimate]) -> Estimate:
    """Several requests' estimates as one (the panel, the budget check)."""
    if len(estimates) == 1:
        return estimates[0]
    if estimates and all(e.key == estimates[0].key and e.per_item == estimates[0].per_item for e in estimates):
        return replace(estimates[0], count=sum(e.count for e in estimates))
    low = sum(e.low for e in estimates)
    high = sum(e.high for e in estimates)
    low_sources = ", ".join(sorted({e.source for e in estimates}))
    high_sources = ", ".join(sorted({e.high_source or e.source for e in estimates}))
    return Estimate("batch", None, 0, 1, low, low_sources, high_item=high, high_source=high_sources,
                    observed=all(e.observed for e in estimates))


def sending(call: Callable[[Any], Any]) -> Callable[[Submission], Any]:
    """An order's `send` from a client call that takes the request (create_video, create_batch, add_audio)."""
    return lambda sub: call(sub.request)


def priced(history: "History", base_url: str, estimates: list[Estimate]) -> list[Estimate]:
    """Each estimate with this profile's own charges for its key (one lookup per key)."""
    seen: dict[str, list[int]] = {}
    out = []
    for estimate in estimates:
        if estimate.key not in seen:
            seen[estimate.key] = history.observed_charges(estimate.key, base_url)
        out.append(estimate.with_observed(seen[estimate.key]))
    return out


def check_spend(caps: Caps, estimate: Estimate, balance: float | None, spent_before: int,
                spent_since: Callable[[float], int], now: float) -> None:
    """Before anything is asked or sent: the high figure must fit every budget and the balance."""
    what = f"this could spend up to {estimate.high} credits ({estimate.sources})" if estimate.is_range \
        else f"this would spend about {estimate.high} credits ({estimate.sources})"
    if caps.max_credits is not None and spent_before + estimate.high > caps.max_credits:
        already = f" after the {spent_before} this session spent" if spent_before else ""
        raise OverBudgetError(f"{what}{already}, over the budget of {caps.max_credits}",
                              hint="raise --max-credits, or make fewer or cheaper videos")
    over = check_caps(caps, spent_since, estimate.high, now)
    if over is not None:
        raise OverBudgetError(f"{what}, over {over.describe()}",
                              hint=f"wait until {over.resets}, or raise the budget.{over.period} setting (config set)")
    if balance is not None and estimate.high > balance:
        raise OverBalanceError(f"{what} and the account has {balance:g}",
                               hint="top up the account, or make fewer or cheaper videos")


def split_for_probe(submissions: list[Submission], estimates: list[Estimate]) -> tuple[list[Submission],
                                                                                       list[Estimate]]:
    """A price never charged to this profile is probed with one job: a multi-variant request whose key
    is not observed sends one variant first, then the others (a second request)."""
    first = next((n for n, e in enumerate(estimates) if not e.observed), None)
    if first is None or estimates[first].count < 2 or not isinstance(submissions[first].request, BatchRequest):
        return submissions, estimates
    sub, est = submissions[first], estimates[first]
    one = replace(sub, request=replace(sub.request, count=1))  # type: ignore[arg-type]  # a BatchRequest (checked above)
    rest = replace(sub, request=replace(sub.request, count=est.count - 1), first_index=sub.first_index + 1)  # type: ignore[arg-type]
    return (submissions[:first] + [one, rest] + submissions[first + 1:],
            estimates[:first] + [est.with_count(1), est.with_count(est.count - 1)] + estimates[first + 1:])


def record_in_history(history: "History", *, kind: str, base_url: str, profile: str,
                      clock: Callable[[], float], model: str | None = None
                      ) -> Callable[[Submission, Job, Estimate], None]:
    """The usual `record`: the job's row in the history with what was estimated for it."""
    from akool_cli.store.history import entry_for_job

    def record(sub: Submission, job: Job, estimate: Estimate) -> None:
        history.add(entry_for_job(job, kind=kind, base_url=base_url, profile=profile, now=clock(),
                                  source=sub.source, video_length=estimate.length,
                                  estimate=estimate.low_each, estimate_high=estimate.high_each,
                                  request=sub.request.to_body(), model=model, price_key=estimate.key))
    return record


def pay(deps: PayDeps, order: PayOrder) -> PayResult:
    """Run one paid order through the gate (see the module's docstring for the order)."""
    uploader = _require_uploader(deps.uploader, order.local_files)
    estimates = priced(deps.history, deps.base_url, order.estimates)
    deps.history.prove_room(sum(e.count for e in estimates))
    summary = combined(estimates)
    now = deps.clock()
    balance = deps.balance()
    check_spend(order.caps, summary, balance, order.spent_before,
                lambda since: deps.history.window_spend(deps.profile, since, now), now)
    deps.confirm(order, summary, balance)
    subs, estimates = split_for_probe(order.submissions, estimates) if order.split_probe \
        else (order.submissions, estimates)
    if order.prepare is not None:
        order.prepare(estimates)
    if order.upload is not None:
        order.upload(uploader, subs)
    guard = SpendGuard(order.caps, spent=order.spent_before, accept_price_change=order.accept_price_change,
                       history=_caps_history(deps, order.caps), profile=deps.profile, clock=deps.clock)
    return PayResult(_submit(order, subs, estimates, guard, deps.slot), guard, summary)


def _caps_history(deps: PayDeps, caps: Caps) -> "History | None":
    """Caps are reserved from worker threads: a connection of their own, used under the guard's lock."""
    if not caps.windows:
        return None
    from akool_cli.store.history import History

    return History(deps.history.path, deps.clock, shared=True)


def _require_uploader(make: "Callable[[], Uploader]", files: "list[LocalFile]") -> "Uploader":
    uploader = make()
    if files:
        uploader.ready()  # raises the error that says what is missing, before anything is asked or paid
    return uploader


def _submit(order: PayOrder, subs: list[Submission], estimates: list[Estimate], guard: SpendGuard,
            slot: "Callable[[], ContextManager[None]]" = contextlib.nullcontext) -> SubmitReport:
    for sub, est in zip(subs, estimates):
        sub.estimate = est  # each request carries its own: no run-long map from request to estimate
    tickets: dict[int, tuple[Ticket, int]] = {}
    recorded: dict[int, int] = {}
    unreachable = [0]  # requests in a row that never reached the service

    def reached(error: TransportError | None) -> None:
        """A service that cannot be reached stops the run after a few tries, not after every row: the rest
        stay unsent (a batch resumes them once it answers)."""
        if error is None or error.sent:
            unreachable[0] = 0
            return
        unreachable[0] += 1
        if unreachable[0] >= UNREACHABLE_STOP:
            guard.stop(HALT_UNREACHABLE, f"{unreachable[0]} requests in a row could not reach the service "
                                         f"({error.message})")

    def send(sub: Submission) -> Any:
        est = sub.estimated()
        ticket = guard.admit(est.key, est.high_each, est.count)
        try:
            with slot():
                answer = order.send(sub)
        except OutcomeUnknownError:
            guard.settle(ticket, [None] * est.count, est.low_each)  # may have been charged
            raise
        except TransportError as error:
            guard.settle(ticket, [None] * est.count if error.sent else None, est.low_each)
            reached(error)
            raise
        except AkoolError:
            guard.settle(ticket, None, est.low_each)  # a business refusal charges nothing
            raise
        except BaseException:
            guard.settle(ticket, [None] * est.count, est.low_each)
            raise
        reached(None)
        jobs = answer_jobs(answer)
        tickets[id(sub)] = (ticket, len(jobs))
        if jobs:
            guard.answered()
        guard.settle(ticket, [job.deduction_credit for job in jobs], est.low_each)
        return answer

    def record(sub: Submission, job: Job) -> None:
        try:
            order.record(sub, job, sub.estimated())
        except BaseException:
            guard.stop(HALT_UNRECORDED, f"job {job.id} could not be written to the history")
            raise
        recorded[id(sub)] = recorded.get(id(sub), 0) + 1
        ticket, count = tickets[id(sub)]  # set by send() before its answer reached the main thread
        if recorded[id(sub)] == count:  # the answer's last job: the hold gives way to the rows
            guard.release(ticket)
            del tickets[id(sub)], recorded[id(sub)]  # settled: nothing of it stays for the rest of the run

    return submit_all(send, subs, order.workers, record, grace=order.grace,
                      halted=lambda: guard.halt is not None, slim=not order.keep_answers)
