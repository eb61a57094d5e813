"""The money code at its seams, without the CLI or a server: prices, budgets, the guard and the gate.

The gate runs against a real history (SQLite in a temporary folder) and a small fake service whose
bill per job the table sets; the end-to-end doors are in test_money_doors.py.
"""

from __future__ import annotations

import calendar
import itertools
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from akool_cli.api.models import BatchRequest, BatchResult, CreateRequest, Job
from akool_cli.core.errors import (
    ApiError,
    Declined,
    OutcomeUnknownError,
    OverBalanceError,
    OverBudgetError,
    TransportError,
    UsageError,
)
from akool_cli.flows.pay import (
    PayDeps,
    PayOrder,
    check_spend,
    combined,
    pay,
    priced,
    record_in_history,
    sending,
    split_for_probe,
)
from akool_cli.flows.submit import Submission
from akool_cli.pricing.budget import (
    HALT_BUDGET,
    HALT_CAP,
    HALT_PRICE,
    HALT_UNRECORDED,
    Caps,
    Refused,
    SpendGuard,
    check_caps,
    resets_at,
    window_bounds,
)
from akool_cli.pricing.prices import (
    AUDIO_ONLY_RATES,
    REPORTED_SINGLE_MULTIPLIER,
    VIDEO_RATES,
    Estimate,
    audio_estimate,
    length_of_video,
    row_estimate,
    video_estimate,
)
from akool_cli.store.history import History

# ---------------------------------------------------------------- prices


@pytest.mark.parametrize(("length", "resolution"), sorted(VIDEO_RATES))
def test_single_create_prices_are_a_range_from_the_table_to_the_reported_charge(length, resolution):
    estimate = video_estimate(resolution, length, 3)
    table = VIDEO_RATES[(length, resolution)]
    assert (estimate.low_each, estimate.high_each) == (table, table * REPORTED_SINGLE_MULTIPLIER)
    assert (estimate.low, estimate.high) == (3 * table, 3 * table * 5)
    assert estimate.is_range and estimate.describe() == f"{3 * table}-{15 * table} credits"
    assert "rate table" in estimate.sources and "report" in estimate.sources
    d = estimate.to_dict()
    assert (d["low"], d["high"], d["low_each"], d["high_each"]) == (3 * table, 15 * table, table, 5 * table)


def test_prices_depend_on_the_length():
    assert video_estimate("720p", 10).low_each == 2 * video_estimate("720p", 5).low_each
    assert audio_estimate(10).low_each == AUDIO_ONLY_RATES[10] == 10 and audio_estimate(5).low_each == 5
    assert video_estimate("720p", 5).key != video_estimate("720p", 10).key
    assert length_of_video(5.063) == 5 and length_of_video(10.063) == 10 and length_of_video(None) == 5


def test_observed_charges_collapse_the_range():
    estimate = video_estimate("720p", 5, 2).with_observed([30, 25, 40])
    assert (estimate.low_each, estimate.high_each, estimate.observed) == (25, 40, True)
    assert estimate.source == "your last 3 job(s)" and estimate.sources == "your last 3 job(s)" or estimate.is_range
    one = video_estimate("720p", 5).with_observed([100])
    assert (one.low_each, one.high_each, one.is_range, one.describe()) == (100, 100, False, "100 credits")
    assert video_estimate("720p", 5).with_observed([]) == video_estimate("720p", 5)


def test_audio_and_rows_are_not_ranges_and_keep_their_key():
    assert not audio_estimate(5).is_range and audio_estimate(5).describe() == "5 credits"
    row = row_estimate("model/alibaba/wan2.5/720p/5/-/-", 20, 30, 2)
    assert row.key == "model/alibaba/wan2.5/720p/5/-/-" and (row.low, row.high) == (40, 60)
    assert row_estimate(None, None, None, 1).high == 0


def test_combined_estimates_add_both_ends():
    a, b = video_estimate("720p", 5), audio_estimate(10)
    both = combined([a, b])
    assert (both.low, both.high) == (30, 110) and both.is_range
    same = combined([a, a, a])
    assert (same.count, same.low, same.high) == (3, 60, 300)
    assert same.key == a.key and same.sources == a.sources  # one kind of request keeps its own words
    assert combined([b]) is b
    model = Estimate("model", "720p", 5, 1, 20, model="m")  # the same list price, another key
    mixed = combined([a, model])
    assert mixed.kind == "batch" and (mixed.low, mixed.high) == (40, 120)
    assert combined([a, a, model]).high == 220


# ---------------------------------------------------------------- budgets before anything is sent


def _spent(amount: int = 0):
    return lambda since: amount


@pytest.mark.parametrize(("caps", "balance", "before", "spent", "error"), [
    (Caps(max_credits=300), None, 0, 0, None),  # exactly the high figure fits
    (Caps(max_credits=299), None, 0, 0, OverBudgetError),
    (Caps(max_credits=0), None, 0, 0, OverBudgetError),  # a budget of 0 refuses any paid request
    (Caps(max_credits=400), None, 100, 0, None),
    (Caps(max_credits=399), None, 100, 0, OverBudgetError),  # a session's earlier spend counts
    (Caps(daily=300), None, 0, 0, None),
    (Caps(daily=300), None, 0, 1, OverBudgetError),
    (Caps(monthly=1000), None, 0, 700, None),
    (Caps(monthly=1000), None, 0, 701, OverBudgetError),
    (Caps(), 300.0, 0, 0, None),  # the balance, against the high figure too
    (Caps(), 299.5, 0, 0, OverBalanceError),
    (Caps(), None, 0, 10**9, None),  # no caps: nothing to check
])
def test_check_spend_uses_the_high_figure(caps, balance, before, spent, error):
    estimate = video_estimate("720p", 5, 3)  # 60 to 300
    if error is None:
        check_spend(caps, estimate, balance, before, _spent(spent), time.time())
    else:
        with pytest.raises(error):
            check_spend(caps, estimate, balance, before, _spent(spent), time.time())


def test_windows_are_utc_days_and_calendar_months():
    now = calendar.timegm((2026, 12, 31, 23, 59, 0))
    assert window_bounds("daily", now) == (calendar.timegm((2026, 12, 31, 0, 0, 0)),
                                           calendar.timegm((2027, 1, 1, 0, 0, 0)))
    assert window_bounds("monthly", now) == (calendar.timegm((2026, 12, 1, 0, 0, 0)),
                                             calendar.timegm((2027, 1, 1, 0, 0, 0)))
    feb = calendar.timegm((2027, 2, 10, 5, 0, 0))
    assert window_bounds("monthly", feb)[1] == calendar.timegm((2027, 3, 1, 0, 0, 0))
    assert resets_at("daily", now) == "2027-01-01 00:00 UTC"
    over = check_caps(Caps(daily=40, monthly=50), lambda since: 30, 15, now)
    assert over is not None and over.period == "daily" and over.spent == 30 and "resets at" in over.describe()
    assert check_caps(Caps(daily=50), lambda since: 35, 15, now) is None  # exactly the cap fits
    assert check_caps(Caps(daily=50, monthly=40), lambda since: 30, 15, now).period == "monthly"


# ---------------------------------------------------------------- the guard


def test_the_guard_holds_the_budget_at_the_boundary():
    guard = SpendGuard(Caps(max_credits=100))
    a = guard.admit("k", 40, 1)  # the probe
    guard.settle(a, [40], 40)
    b = guard.admit("k", 40, 1)
    guard.settle(b, [40], 40)
    assert guard.spent == 80
    with pytest.raises(Refused):
        guard.admit("k", 40, 1)  # 80 + 40 > 100
    assert guard.halt == HALT_BUDGET and "budget of 100" in guard.detail
    with pytest.raises(Refused):
        guard.admit("other", 1, 1)  # halted: nothing more leaves


def test_the_guard_admits_exactly_up_to_the_limit():
    guard = SpendGuard(Caps(max_credits=100))
    t = guard.admit("k", 50, 2)
    guard.settle(t, [50, 50], 50)
    assert guard.spent == 100 and not guard.crossed and guard.halt is None


def test_a_budget_of_zero_sends_nothing_priced():
    guard = SpendGuard(Caps(max_credits=0))
    with pytest.raises(Refused):
        guard.admit("k", 1, 1)
    free = SpendGuard(Caps(max_credits=0))
    t = free.admit("free", 0, 1)  # a free model costs nothing: it fits a budget of 0
    free.settle(t, [0], 0)
    assert free.spent == 0


def test_a_charge_above_the_high_figure_halts_unless_accepted():
    guard = SpendGuard(Caps(max_credits=1000))
    t = guard.admit("k", 20, 1)
    guard.settle(t, [100], 20)
    assert guard.halt == HALT_PRICE and "cost 100 credits where 20 were estimated" in guard.detail
    assert guard.price_seen == [("k", 100, 20, 20)]
    accepting = SpendGuard(Caps(max_credits=250), accept_price_change=True)
    t = accepting.admit("k", 20, 1)
    accepting.settle(t, [100], 20)
    assert accepting.halt is None
    t = accepting.admit("k", 20, 1)  # the next one is held at what was charged: 100
    assert t.high == 100
    accepting.settle(t, [100], 20)
    with pytest.raises(Refused):
        accepting.admit("k", 20, 1)  # 200 + 100 > 250


def test_a_charge_within_the_range_is_said_once_and_does_not_halt():
    guard = SpendGuard(Caps())
    for _ in range(3):
        t = guard.admit("video", 100, 1)
        guard.settle(t, [60], 20)
    assert guard.halt is None and guard.price_seen == [("video", 60, 20, 100)] and guard.spent == 180


def test_unknown_outcomes_count_at_the_high_figure_and_refusals_at_nothing():
    guard = SpendGuard(Caps(max_credits=500))
    t = guard.admit("k", 100, 2)
    guard.settle(t, [None, None], 20)  # no answer: it may have been charged
    assert guard.spent == 200
    t = guard.admit("k", 100, 1)
    guard.settle(t, None, 20)  # a business refusal: nothing was charged
    assert guard.spent == 200 and guard.held == 0 and guard.inflight == 0
    t = guard.admit("k", 100, 1)
    guard.settle(t, [None], 20)  # one job, no answer: its own high figure
    assert guard.spent == 300


def test_a_probe_goes_alone_and_nothing_follows_it_until_its_bill_is_known():
    guard = SpendGuard(Caps(max_credits=1000))
    probe = guard.admit("k", 20, 1)
    assert probe.probe
    admitted = threading.Event()

    def second() -> None:
        t = guard.admit("k", 20, 1)
        admitted.set()
        guard.settle(t, [20], 20)

    worker = threading.Thread(target=second)
    worker.start()
    assert not admitted.wait(0.3)  # held back while the probe is out
    guard.settle(probe, [20], 20)
    assert admitted.wait(5)
    worker.join()
    assert guard.spent == 40


def test_nothing_leaves_before_the_last_answer_is_recorded():
    guard = SpendGuard(Caps())
    t = guard.admit("k", 20, 1)
    guard.answered()
    assert guard.awaiting_record == 1
    guard.settle(t, [20], 20)
    admitted = threading.Event()
    worker = threading.Thread(target=lambda: (guard.admit("k", 20, 1), admitted.set()))
    worker.start()
    assert not admitted.wait(0.3)
    guard.release(t)
    assert admitted.wait(5)
    worker.join()
    assert guard.awaiting_record == 0


def test_a_stop_refuses_every_later_request():
    guard = SpendGuard(Caps())
    guard.stop(HALT_UNRECORDED, "job x could not be written")
    guard.stop(HALT_BUDGET, "later reasons do not replace the first")
    assert guard.halt == HALT_UNRECORDED and "job x" in guard.detail
    with pytest.raises(Refused):
        guard.admit("k", 0, 1)


def test_caps_are_reserved_in_the_history_and_released(tmp_path):
    history = History(tmp_path / "h.sqlite3", shared=True)
    guard = SpendGuard(Caps(daily=50), history=history, profile="p")
    t = guard.admit("k", 20, 1)
    assert history.window_spend("p", 0, time.time()) == 20 and t.reservation
    guard.settle(t, [20], 20)
    guard.release(t)
    assert history.window_spend("p", 0, time.time()) == 0
    other = SpendGuard(Caps(daily=50), history=history, profile="p")
    a = other.admit("k", 30, 1)
    other.settle(a, [30], 30)  # still held: its job is not recorded
    b = SpendGuard(Caps(daily=50), history=history, profile="p")
    with pytest.raises(Refused):
        b.admit("k", 30, 1)  # 30 held + 30 > 50, even from another guard (another process)
    assert b.halt == HALT_CAP and "daily cap of 50" in b.detail
    assert SpendGuard(Caps(daily=50), history=history, profile="q").admit("k", 30, 1)  # per profile


def test_expired_reservations_stop_counting(tmp_path):
    history = History(tmp_path / "h.sqlite3")
    now = time.time()
    assert history.reserve("p", 40, lambda spent_since: True, now, 10) is not None
    assert history.window_spend("p", 0, now) == 40
    assert history.window_spend("p", 0, now + 11) == 0
    assert history.reserve("p", 10, lambda spent_since: spent_since(0) + 10 <= 45, now, 10) is None


# ---------------------------------------------------------------- the gate, in order


@dataclass
class FakeService:
    """Answers creates with jobs billed `charge` each; logs what happened in order."""

    charge: int | None = 20
    events: list[str] = field(default_factory=list)
    fail: Exception | None = None
    ids: Any = field(default_factory=lambda: itertools.count(1))

    def create(self, request: Any) -> Any:
        self.events.append("send")
        if self.fail is not None:
            raise self.fail
        return Job(id=f"{next(self.ids):024x}", status=1, create_time=int(time.time() * 1000),
                   deduction_credit=self.charge)


@dataclass
class FakeUploader:
    events: list[str]

    def upload(self, file: Any) -> str:
        self.events.append("upload")
        return "https://example.com/uploaded.png"


def _request(n: int) -> CreateRequest:
    return CreateRequest(image_url=f"https://example.com/{n}.png", prompt="p", negative_prompt="", resolution="720p",
                         video_length=5)


def _gate(tmp_path: Path, service: FakeService, *, n: int = 3, caps: Caps = Caps(), balance: float | None = None,
          answer: bool = True, accept: bool = False, estimate: Estimate | None = None, record_fails_after: int = -1,
          workers: int = 1):
    history = History(tmp_path / "history.sqlite3")
    events = service.events

    def confirm(order: PayOrder, total: Estimate, bal: float | None) -> None:
        events.append("confirm")
        if not answer:
            raise Declined("no")

    def balance_now() -> float | None:
        events.append("balance")
        return balance

    deps = PayDeps(history=history, uploader=lambda: (events.append("uploader"), FakeUploader(events))[1],
                   balance=balance_now, confirm=confirm, profile="default",
                   base_url="https://api.test", clock=time.time)
    write = record_in_history(history, kind="create", base_url="https://api.test", profile="default", clock=time.time)
    recorded: list[str] = []

    def record(sub: Submission, job: Job, est: Estimate) -> None:
        if record_fails_after >= 0 and len(recorded) >= record_fails_after:
            raise OSError("disk full")
        write(sub, job, est)
        recorded.append(job.id)
        events.append("record")

    subs = [Submission(f"img{i}", _request(i), row=i + 1) for i in range(n)]
    order = PayOrder(title="t", rows=[], submissions=subs, estimates=[estimate or video_estimate("720p", 5)] * n,
                     send=sending(service.create), record=record, caps=caps, workers=workers, accept_price_change=accept,
                     upload=lambda uploader, todo: events.append("uploads"),
                     prepare=lambda estimates: events.append("prepare"))
    return deps, order, history


def test_the_gate_runs_its_steps_in_one_order(tmp_path):
    service = FakeService()
    deps, order, history = _gate(tmp_path, service, n=2)
    result = pay(deps, order)
    assert service.events == ["uploader", "balance", "confirm", "prepare", "uploads", "send", "record", "send",
                              "record"]
    assert len(result.report.created) == 2 and result.guard.spent == 40
    entries = history.recent()
    assert {(e.estimate, e.estimate_high, e.deducted) for e in entries} == {(20, 100, 20)}


@pytest.mark.parametrize(("case", "kwargs", "charge", "sent", "error", "halt"), [
    ("fits", dict(caps=Caps(max_credits=300)), 20, 3, None, None),
    ("over the budget up front", dict(caps=Caps(max_credits=299)), 20, 0, OverBudgetError, None),
    ("budget of zero", dict(caps=Caps(max_credits=0)), 20, 0, OverBudgetError, None),
    ("over the balance", dict(balance=299.0), 20, 0, OverBalanceError, None),
    ("declined", dict(answer=False), 20, 0, Declined, None),
    ("charged above the high figure", dict(caps=Caps(max_credits=1000)), 120, 1, None, HALT_PRICE),
    ("accepted, then the budget", dict(caps=Caps(max_credits=300), accept=True), 120, 2, None, HALT_BUDGET),
    ("within the range", dict(caps=Caps(max_credits=300)), 100, 3, None, None),
    ("free", dict(caps=Caps(max_credits=0), estimate=Estimate("model", "720p", 5, 1, 0)), 0, 3, None, None),
    ("daily cap", dict(caps=Caps(daily=299)), 20, 0, OverBudgetError, None),
])
def test_the_gate_table(tmp_path, case, kwargs, charge, sent, error, halt):
    service = FakeService(charge=charge)
    deps, order, _ = _gate(tmp_path, service, **kwargs)
    if error is not None:
        with pytest.raises(error):
            pay(deps, order)
        assert service.events.count("send") == 0, case
        return
    result = pay(deps, order)
    assert service.events.count("send") == sent, case
    assert result.guard.halt == halt, case
    assert len(result.report.not_sent) == 3 - sent, case
    limit = order.caps.max_credits
    if limit is not None:  # never crossed by more than the first probe's difference
        probe_overshoot = max(0, charge - order.estimates[0].high_each)
        assert result.guard.spent <= limit + probe_overshoot, case


def test_the_first_unrecordable_job_stops_the_gate(tmp_path):
    service = FakeService()
    deps, order, _ = _gate(tmp_path, service, n=5, record_fails_after=1, workers=3)
    result = pay(deps, order)
    assert service.events.count("send") == 2  # the job recorded, the one that could not be: nothing after
    assert result.guard.halt == HALT_UNRECORDED and len(result.report.unrecorded) == 1
    assert len(result.report.not_sent) == 3


@pytest.mark.parametrize(("failure", "spent"), [
    (ApiError(1003, "bad"), 0),
    (TransportError("refused", sent=False), 0),
    (TransportError("reset mid-answer", sent=True), 200),  # it reached the server: maybe charged
    (OutcomeUnknownError("no answer"), 200),  # may have been charged: counted at the high figure
    (ValueError("odd"), 200),
])
def test_failed_requests_count_what_they_may_have_cost(tmp_path, failure, spent):
    service = FakeService(fail=failure)
    two = video_estimate("720p", 5, 2)  # a request that makes two jobs, up to 100 each
    deps, order, _ = _gate(tmp_path, service, n=1, estimate=two)
    result = pay(deps, order)
    assert result.guard.spent == spent and len(result.report.errors) == 1
    assert result.guard.held == 0 and result.guard.inflight == 0  # settled, whatever happened


def test_a_history_that_cannot_take_the_planned_jobs_stops_before_anything(tmp_path):
    service = FakeService()
    deps, order, history = _gate(tmp_path, service, n=1)
    history.path = tmp_path / "missing" / "\0bad"
    history._db = None
    with pytest.raises(Exception):
        pay(deps, order)
    assert "send" not in service.events


def test_a_local_file_without_an_uploader_stops_before_the_question(tmp_path):
    from akool_cli.api.uploads import LocalFile, NoUploader

    service = FakeService()
    deps, order, _ = _gate(tmp_path, service, n=1)
    deps.uploader = lambda: NoUploader()
    order.local_files = [LocalFile(tmp_path / "photo.png", "image", 10)]
    with pytest.raises(UsageError):
        pay(deps, order)
    assert "confirm" not in service.events and "send" not in service.events


def test_observed_charges_price_the_order(tmp_path):
    service = FakeService(charge=35)
    deps, order, history = _gate(tmp_path, service, n=1)
    pay(deps, order)
    [again] = priced(history, "https://api.test", [video_estimate("720p", 5)])
    assert (again.low_each, again.high_each, again.observed) == (35, 35, True)
    [other] = priced(history, "https://other.test", [video_estimate("720p", 5)])
    assert not other.observed  # charges are per target


def test_a_multi_variant_request_is_split_for_its_probe():
    request = BatchRequest(image_url="u", prompt="p", model_name="m", resolution="720p", video_length=5, count=3)
    sub = Submission("u", request, row=1)
    est = Estimate("model", "720p", 5, 3, 20)
    subs, ests = split_for_probe([sub], [est])
    assert [s.request.count for s in subs] == [1, 2] and [e.count for e in ests] == [1, 2]
    assert [s.first_index for s in subs] == [1, 2] and all(s.row == 1 for s in subs)
    seen = est.with_observed([20])
    assert split_for_probe([sub], [seen]) == ([sub], [seen])  # observed: no split
    before = Submission("a", _request(1), row=1)
    after = Submission("b", _request(2), row=3)
    subs, ests = split_for_probe([before, sub, after], [seen, est, seen])
    assert [s.source for s in subs] == ["a", "u", "u", "b"] and [e.count for e in ests] == [3, 1, 2, 3]
    one = Estimate("model", "720p", 5, 1, 20)
    single = Submission("u", BatchRequest(image_url="u", prompt="p", model_name="m", resolution="720p",
                                          video_length=5, count=1))
    assert split_for_probe([single], [one]) == ([single], [one])


# ---------------------------------------------------------------- the documented figures, pinned


def test_the_vendor_tables_are_the_documented_ones():
    # ../shared/reference/akool-api-notes.md, "Credits (from the vendor page)".
    assert VIDEO_RATES == {(5, "720p"): 20, (5, "1080p"): 25, (5, "4k"): 30,
                           (10, "720p"): 40, (10, "1080p"): 50, (10, "4k"): 60}
    assert AUDIO_ONLY_RATES == {5: 5, 10: 10}
    assert REPORTED_SINGLE_MULTIPLIER == 5  # 100 credits reported for 720p / 5 s
    from akool_cli.pricing.prices import LENGTHS, RESOLUTIONS

    assert LENGTHS == (5, 10) and RESOLUTIONS == ("720p", "1080p", "4k")


def test_price_keys_name_every_dimension():
    assert video_estimate("720p", 5).key == "video/-/720p/5/-/-"
    assert video_estimate("1080p", 10, premium=True).key == "video/-/1080p/10/-/premium"
    assert audio_estimate(10).key == "audio/-/-/10/-/-"
    assert Estimate("model", "720p", 5, 1, 20, model="m", audio=True).key == "model/m/720p/5/audio/-"


def _model(unit_credit: float | None, audio: float | None = None):
    from akool_cli.api.models import AiModel, ResolutionOption

    return AiModel("m", "M", "p", [ResolutionOption("720p", unit_credit)], [5, 10], audio, False, 1, False)


def test_model_prices_are_unit_credit_times_seconds_times_audio():
    from akool_cli.pricing.prices import SOURCE_MODELS, SOURCE_TABLE, model_estimate

    plain = model_estimate(_model(4), "720p", 5)
    assert (plain.low_each, plain.high_each, plain.count, plain.audio, plain.source) == (20, 20, 1, False, SOURCE_MODELS)
    assert model_estimate(_model(4), "720p", 10, 3).low == 120
    assert model_estimate(_model(4, 1.5), "720p", 5, audio=True).low_each == 30
    assert model_estimate(_model(4, 1.5), "720p", 5).low_each == 20  # the multiplier only with audio
    assert model_estimate(_model(4.1), "720p", 5).low_each == 21  # rounded up, never down
    listed_none = model_estimate(_model(None), "720p", 10)
    assert (listed_none.low_each, listed_none.source) == (40, SOURCE_TABLE)  # no unit_credit: the table
    unknown = model_estimate(_model(4), "768p", 5)
    assert (unknown.low_each, unknown.source) == (30, SOURCE_TABLE)  # not listed: the dearest for the length
    assert model_estimate(_model(4), "768p", 6).low_each == 60  # no length in the table: the dearest of all
    assert model_estimate(_model(None, 2.0), "720p", 5, audio=True).low_each == 40


def test_the_machine_fields_of_an_estimate():
    d = video_estimate("720p", 5).to_dict()
    assert d["high_source"] != d["low_source"] and "report" in d["high_source"] and not d["observed"]
    assert audio_estimate(5).to_dict()["high_source"] == audio_estimate(5).to_dict()["low_source"]
    assert row_estimate("k", 7, None, 1).low_each == 7 and row_estimate("k", None, 9, 1).high_each == 9
    assert length_of_video(7.5) == 5 and length_of_video(7.6) == 10
    with pytest.raises(Exception):
        video_estimate("720p", 5).count = 2  # type: ignore[misc]  # estimates are values


def test_a_multi_job_request_is_judged_per_job():
    guard = SpendGuard(Caps())
    t = guard.admit("k", 20, 2)  # two variants, up to 20 each
    assert t.high == 40
    guard.settle(t, [30, 30], 20)  # 60 in all: each job cost more than its high figure
    assert guard.halt == HALT_PRICE and "cost 30 credits where 20 were estimated" in guard.detail
    unknown = SpendGuard(Caps())
    t = unknown.admit("k", 20, 2)
    unknown.settle(t, [None, 25], 20)  # one answer lost: counted at its own high figure, 20
    assert unknown.spent == 45


def test_after_its_probe_a_key_goes_out_concurrently_and_a_new_probe_holds_every_key():
    guard = SpendGuard(Caps())
    t = guard.admit("a", 20, 1)
    guard.settle(t, [20], 20)  # "a" is priced now
    first = guard.admit("a", 20, 1)
    assert not first.probe
    second = threading.Event()
    worker = threading.Thread(target=lambda: (guard.admit("a", 20, 1), second.set()))
    worker.start()
    assert second.wait(5)  # two requests of a priced key on the wire at once
    worker.join()
    guard.settle(first, [20], 20)
    held = SpendGuard(Caps(), observed={"a": 20})
    probe = held.admit("b", 20, 1)
    assert probe.probe and held.probing
    follow = threading.Event()
    worker = threading.Thread(target=lambda: (held.admit("a", 20, 1), follow.set()))
    worker.start()
    assert not follow.wait(0.3)  # even a priced key waits while a probe is out
    held.settle(probe, [20], 20)
    assert follow.wait(5)
    worker.join()


def test_no_caps_no_reservations(tmp_path):
    history = History(tmp_path / "h.sqlite3", shared=True)
    guard = SpendGuard(Caps(max_credits=100), history=history, profile="p")
    t = guard.admit("k", 20, 1)
    assert t.reservation is None and history.window_spend("p", 0, time.time()) == 0


def test_a_charge_equal_to_the_estimate_is_not_said():
    guard = SpendGuard(Caps())
    t = guard.admit("k", 20, 1)
    guard.settle(t, [20], 20)
    assert guard.price_seen == [] and guard.halt is None


def test_accepting_a_free_model_keeps_it_free():
    guard = SpendGuard(Caps(max_credits=0), accept_price_change=True)
    for _ in range(3):
        t = guard.admit("free", 0, 1)
        guard.settle(t, [0], 0)
    assert guard.spent == 0 and guard.halt is None


def test_each_answer_is_released_once():
    guard = SpendGuard(Caps())
    a = guard.admit("k", 1, 1)
    guard.settle(a, [1], 1)
    b = guard.admit("k", 1, 1)
    guard.answered()
    guard.answered()
    guard.settle(b, [1], 1)
    guard.release(a)
    assert guard.awaiting_record == 1  # one answer still waits for its record
    guard.release(b)
    assert guard.awaiting_record == 0


def test_an_order_asks_by_default():
    order = PayOrder(title="t", rows=[], submissions=[], estimates=[], send=lambda r: r, record=lambda s, j, e: None)
    assert (order.yes, order.split_probe, order.workers, order.accept_price_change) == (False, False, 1, False)


def test_a_cap_s_hold_lasts_until_the_answer_s_last_job_is_recorded(tmp_path):
    history = History(tmp_path / "history.sqlite3")
    held_while_recording: list[int] = []
    write = record_in_history(history, kind="create", base_url="https://api.test", profile="default",
                              clock=time.time)

    def record(sub: Submission, job: Job, est: Estimate) -> None:
        held_while_recording.append(history.window_spend("default", 0, time.time()))
        write(sub, job, est)

    two = BatchResult([Job(id=f"{n:024x}", status=1, create_time=int(time.time() * 1000), deduction_credit=20)
                       for n in (1, 2)], [])
    deps = PayDeps(history=history, uploader=lambda: FakeUploader([]), balance=lambda: None,
                   confirm=lambda o, e, b: None, profile="default", base_url="https://api.test", clock=time.time)
    request = BatchRequest(image_url="u", prompt="p", model_name="m", resolution="720p", video_length=5, count=2)
    order = PayOrder(title="t", rows=[], submissions=[Submission("u", request)],
                     estimates=[Estimate("model", "720p", 5, 2, 20, model="m")], send=lambda r: two, record=record,
                     caps=Caps(daily=1000))
    pay(deps, order)
    # The hold (40) is there while each job is written; after the last, only the rows count.
    assert held_while_recording == [40, 60] and history.window_spend("default", 0, time.time()) == 40


def test_a_run_s_spend_so_far(tmp_path):
    from akool_cli.store.history import entry_for_job
    from akool_cli.store.journal import Journal

    history = History(tmp_path / "history.sqlite3")
    journal = Journal(history)
    run = journal.new_run("m.csv", "default", "https://api.test", {})
    journal.add_rows(run, [{"row": n, "key": f"k{n}", "endpoint": "batch", "request": {"count": 2 if n == 4 else 1},
                            "estimate": 20, "estimate_high": 30} for n in range(1, 6)])

    def job(n: int, status: int, deducted: int | None) -> str:
        made = Job(id=f"{n:024x}", status=status, create_time=int(time.time() * 1000), deduction_credit=deducted)
        history.add(entry_for_job(made, kind="create", base_url="https://api.test", profile="default",
                                  now=time.time(), source=None, video_length=5, estimate=20, request=None))
        return made.id

    journal.add_job(run, 1, job(1, 3, 25))  # charged 25
    journal.add_job(run, 2, job(2, 4, 25))  # failed: refunded
    journal.add_job(run, 3, job(3, 2, None))  # not charged yet: its high figure, 30
    journal.add_job(run, 3, f"{99:024x}")  # an id the history lacks: its high figure too
    journal.set_states(run, [(4, "uncertain", "no answer")])  # two variants may exist: 2 x 30
    # row 5 is pending: nothing
    assert journal.charged(run) == 25 + 0 + 30 + 30 + 60
