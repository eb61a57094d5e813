"""Fast tests at the seams, no CLI and no server: the planner's table, the writers over fixed views,
the one poll loop with a fake clock, and the history's schema following HistoryEntry."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from dataclasses import dataclass, fields, make_dataclass
from pathlib import Path
from typing import Any

import pytest

from akool_cli.api.models import AiModel, BatchRequest, CreateRequest, Effect, Job
from akool_cli.core.errors import UsageError, WaitTimeoutError
from akool_cli.flows.deps import Deps
from akool_cli.flows.events import Collector
from akool_cli.flows.wait import PollPolicy, wait, wait_for_jobs
from akool_cli.output.writers import Column, View, lines_view, raw_cell, record_view, write
from akool_cli.pricing.plan import CreateOptions, Defaults, plan_create
from akool_cli.store.history import History, HistoryEntry, add_missing_columns, entry_for_job

ID = "0123456789abcdef01234567"
MODEL = AiModel.from_api({"value": "seedance-1", "label": "Seedance", "durationList": [5, 8],
                          "resolutionList": [{"value": "720p", "unit_credit": 2.5}, {"value": "1080p"}],
                          "generate_audio": {"extra_credit_multiplier": 2}, "maxCount": 4, "supportedLastFrame": True})
EFFECT = Effect.from_api({"_id": "e1", "name": "Sakura", "effect_code": "sakura_1"})
DEFAULTS = Defaults("720p", 5, None, effects=lambda: [EFFECT], models=lambda: [MODEL])


# ---------------------------------------------------------------- the planner's table

@pytest.mark.parametrize("options,endpoint,low,high", [
    (CreateOptions(), CreateRequest, 20, 100),
    (CreateOptions(resolution="4k", length=10), CreateRequest, 60, 300),
    (CreateOptions(effect="sakura"), CreateRequest, 20, 100),
    (CreateOptions(model="seedance-1"), BatchRequest, 13, 13),  # ceil(2.5 x 5)
    (CreateOptions(model="seedance-1", count=3), BatchRequest, 39, 39),
    (CreateOptions(model="seedance-1", length=8, generate_audio=True), BatchRequest, 40, 40),
])
def test_the_planner_picks_the_endpoint_and_the_price(options, endpoint, low, high):
    plan = plan_create(options, DEFAULTS)
    assert isinstance(plan.template, endpoint)
    assert (plan.estimate.low, plan.estimate.high) == (low, high)


@pytest.mark.parametrize("options,needle", [
    (CreateOptions(audio="https://x/a.mp3", ai_audio=True), "--audio and --ai-audio"),
    (CreateOptions(count=2), "--count needs --model"),
    (CreateOptions(model="seedance-1", effect="sakura"), "--model cannot be combined"),
    (CreateOptions(resolution="8k"), "'8k' is not one of"),
    (CreateOptions(length=7), "'7' is not one of"),
    (CreateOptions(model="seedance-1", length=10), "10"),
    (CreateOptions(effect="no-such-effect"), "no-such-effect"),
    (CreateOptions(webhook="ftp://x"), "--webhook"),
])
def test_the_planner_names_the_flag_at_fault(options, needle):
    with pytest.raises(UsageError) as caught:
        plan_create(options, DEFAULTS)
    assert needle in caught.value.message


def test_a_prompt_beside_an_effect_is_a_warning_not_an_error():
    plan = plan_create(CreateOptions(effect="Sakura", prompt="a cat"), DEFAULTS)
    assert plan.template.effect_code == "sakura_1" and plan.warnings


# ---------------------------------------------------------------- writers over fixed views

def render(view: View, fmt: str, **kwargs: Any) -> str:
    out = io.StringIO()
    write(view, fmt, out, **kwargs)
    return out.getvalue()


LISTING = View([Column("_id", "ID", 0, whole=True), Column("n", "N")], [{"_id": "a", "n": 1}, {"_id": "b", "n": None}])


def test_a_listing_in_every_format():
    assert json.loads(render(LISTING, "json")) == [{"_id": "a", "n": 1}, {"_id": "b", "n": None}]
    assert [json.loads(line) for line in render(LISTING, "jsonl").splitlines()][1] == {"_id": "b", "n": None}
    assert render(LISTING, "csv") == "_id,n\na,1\nb,\n"
    assert render(LISTING, "tsv") == "_id\tn\na\t1\nb\t\n"
    assert render(LISTING, "ids") == "a\nb\n"
    assert render(LISTING, "table").splitlines() == ["ID  N", "a   1", "b   -"]


def test_a_record_is_one_object_and_a_key_value_table():
    view = record_view({"credit": 12.5, "profile": "default"})
    assert json.loads(render(view, "json")) == {"credit": 12.5, "profile": "default"}
    assert render(view, "csv") == "credit,profile\n12.5,default\n"
    assert render(view, "table") == "Credit   12.5\nProfile  default\n"
    assert not view.honours("ids")
    with pytest.raises(ValueError):
        render(view, "ids")


def test_a_record_with_a_sentence_for_people():
    view = record_view({"run": "r1", "counts": {"saved": 2}}, text="r1", id_key="run")
    assert render(view, "table") == "r1\n"
    assert render(view, "ids") == "r1\n"
    assert json.loads(render(view, "json")) == {"run": "r1", "counts": {"saved": 2}}
    assert list(csv.reader(io.StringIO(render(view, "csv")))) == [["run", "counts"], ["r1", '{"saved": 2}']]


def test_lines_for_people_records_for_machines():
    view = lines_view(["a  /x/a.mp4"], [{"_id": "a", "path": "/x/a.mp4"}], id_key="_id")
    assert render(view, "table") == "a  /x/a.mp4\n"
    assert render(view, "csv") == "_id,path\na,/x/a.mp4\n"


@pytest.mark.parametrize("value,cell", [("=HYPERLINK(\"x\")", "'=HYPERLINK(\"x\")"), ("+1", "'+1"), ("-x", "'-x"),
                                        ("@SUM(A1)", "'@SUM(A1)"), (-5, "-5"), (True, "true"), (None, ""),
                                        ("a\x1b[31mb", "a\\e[31mb"), ({"k": [1]}, '{"k": [1]}')])
def test_a_spreadsheet_gets_raw_values_and_no_formulas(value, cell):
    assert raw_cell(value) == cell


def test_tsv_has_no_tabs_or_newlines_inside_a_value():
    view = View([Column("v", "V")], [{"v": "a\tb\nc"}])
    assert render(view, "tsv") == "v\na b c\n"


def test_a_terminal_table_drops_low_priority_columns_but_keeps_ids_whole():
    wide = View([Column("_id", "ID", 0, whole=True), Column("x", "X" * 70, 5)], [{"_id": ID, "x": "y"}])
    text = render(wide, "table", tty=True, width=40)
    assert ID in text and "XXXX" not in text


# ---------------------------------------------------------------- the one poll loop, with a fake clock

class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def monotonic(self) -> float:
        return self.now


def job(status: int, job_id: str = ID) -> Job:
    return Job.from_api({"_id": job_id, "status": status, "video_url": "https://x/v.mp4" if status == 3 else None})


def test_the_poll_loop_backs_off_and_stops_when_final():
    clock = FakeClock()
    answers = iter([[job(1)], [job(2)], [job(2)], [job(2)], [job(3)]])
    latest, gone = wait_for_jobs(lambda ids: next(answers), [ID], PollPolicy(2.0, 5.0, 1.5), sleep=clock.sleep,
                                 monotonic=clock.monotonic)
    assert latest[ID].downloadable and gone == []
    assert clock.sleeps == [2.0, 3.0, 4.5, 5.0]


def test_an_id_missing_three_times_is_gone_unless_just_created():
    clock = FakeClock()
    _, gone = wait_for_jobs(lambda ids: [], [ID], PollPolicy(1.0, 1.0), sleep=clock.sleep, monotonic=clock.monotonic)
    assert gone == [ID] and len(clock.sleeps) == 2
    clock = FakeClock()
    with pytest.raises(WaitTimeoutError) as caught:
        wait_for_jobs(lambda ids: [], [ID], PollPolicy(1.0, 1.0, timeout=10), sleep=clock.sleep,
                      monotonic=clock.monotonic, fresh={ID})
    assert caught.value.pending == [ID] and clock.now <= 10


@dataclass
class FakeClient:
    answers: list[list[Job]]
    asked: list[list[str]]

    def results(self, ids: list[str], known: Any = None) -> list[Job]:
        self.asked.append(list(ids))
        return self.answers.pop(0)


def test_wait_records_each_tick_and_reports_through_events(tmp_path: Path):
    clock = FakeClock()
    history = History(tmp_path / "h.sqlite3")
    history.add(entry_for_job(job(1), kind="create", base_url="b", profile="p", now=0, source=None,
                              video_length=5, estimate=20, request=None))
    events = Collector()
    client = FakeClient([[job(2)], [job(3)]], [])
    ticks: list[float] = []
    deps = Deps(client=lambda: client, history=lambda: history, uploader=lambda: None,  # type: ignore[arg-type,return-value]
                setting={"poll_interval": 0.5, "poll_max_interval": 1}.__getitem__, events=events,
                command=lambda *a: "akool " + " ".join(a), profile="p", base_url="b", is_loopback=True,
                clock=lambda: 0.0, sleep=clock.sleep, monotonic=clock.monotonic)
    latest, _ = wait(deps, [ID], None, on_tick=lambda jobs, elapsed: ticks.append(elapsed))
    assert latest[ID].downloadable and events.ticks == 2 and len(ticks) == 2
    assert history.get(ID).status == 3  # recorded by the loop itself, tick by tick
    assert events.infos == [] and events.warnings == []  # the flow printed nothing


def test_a_remote_service_is_never_polled_faster_than_once_a_second():
    from akool_cli.flows.wait import poll_policy

    deps = Deps(client=None, history=None, uploader=None, setting={"poll_interval": 0.05,  # type: ignore[arg-type]
                "poll_max_interval": 0.1}.__getitem__, events=Collector(), command=str, profile="p", base_url="b",
                is_loopback=False, clock=float, sleep=float, monotonic=float)  # type: ignore[arg-type]
    assert poll_policy(deps, None).interval == 1.0


# ---------------------------------------------------------------- the history follows HistoryEntry

def test_a_new_entry_field_becomes_a_column_by_itself(tmp_path: Path):
    db = sqlite3.connect(tmp_path / "h.sqlite3")
    db.execute("CREATE TABLE jobs (id TEXT PRIMARY KEY)")
    Wider = make_dataclass("Wider", [("id", "str"), ("rating", "int | None", None), ("note", "str | None", None)])
    assert add_missing_columns(db, "jobs", Wider) == ["rating", "note"]
    assert add_missing_columns(db, "jobs", Wider) == []
    types = {row[1]: row[2] for row in db.execute("PRAGMA table_info(jobs)")}
    assert types == {"id": "TEXT", "rating": "INTEGER", "note": "TEXT"}


def test_history_json_has_every_stored_field():
    from akool_cli.output.views import ENTRY_RENAMES, entry_record

    entry = HistoryEntry(id=ID, kind="create", created_at=1.0, expires_at=2.0, base_url="b", profile="p",
                         updated_at=1.0, model="seedance-1", price_key="model:seedance-1:720p:5", estimate_high=100)
    record = entry_record(entry)
    assert {ENTRY_RENAMES.get(f.name, f.name) for f in fields(HistoryEntry)} <= set(record)
    assert record["model"] == "seedance-1" and record["price_key"].startswith("model:")
    assert record["create_time"] == 1000 and record["status_name"] == "unknown"


# ---------------------------------------------------------------- model lists as public clients see them

@pytest.mark.parametrize("audio,multiplier", [(True, 1.0), (False, None), (None, None), ({}, 1.0),
                                              ({"extra_credit_multiplier": 1.5}, 1.5),
                                              ({"extra_credit_multiplier": -2}, 1.0), ("yes", 1.0)])
def test_generate_audio_is_supported_when_non_null_and_not_false(audio, multiplier):
    assert AiModel.from_api({"value": "m", "generate_audio": audio}).audio_multiplier == multiplier


def test_resolutions_match_by_case_and_pixel_size_and_keep_the_model_s_spelling():
    model = AiModel.from_api({"value": "m", "durationList": [5, 10], "resolutionList": [
        {"value": "768P", "width": 1366, "height": 768},
        {"value": "1280x720", "durationList": [5]},
        {"value": "720x1280"}]})
    assert model.resolution("768p").value == "768P"
    assert model.resolution("1366X768").value == "768P"
    assert model.resolution("720p").value == "1280x720"  # short side 720, landscape first
    assert model.resolution("720x1280").value == "720x1280"
    assert model.resolution("4k") is None
    assert model.lengths_at(model.resolution("1280x720")) == [5]
    assert model.lengths_at(model.resolution("768P")) == [5, 10]


def test_a_failed_job_says_why_where_the_service_does():
    assert Job.from_api({"_id": ID, "status": 4, "failed_reason": " moderation "}).failure_reason == "moderation"
    assert Job.from_api({"_id": ID, "status": 4, "msg": "x" * 1000}).failure_reason == "x" * 300
    assert Job.from_api({"_id": ID, "status": 3, "msg": "OK"}).failure_reason is None
    assert Job.from_api({"_id": ID, "status": 4, "failed_reason": 12}).failure_reason is None


@pytest.mark.parametrize("prefix,expected", [
    ("/home/me/.local/pipx/venvs/akool-cli", "pipx inject akool-cli 'mcp>=2,<3'"),
    ("/home/me/.local/share/uv/tools/akool-cli", "uv tool install --reinstall --with 'mcp>=2,<3' akool-cli"),
    ("/home/me/project/.venv", "/home/me/project/.venv/bin/python -m pip install 'mcp>=2,<3'"),
])
def test_install_hints_fit_how_akool_was_installed(prefix, expected):
    from akool_cli.core.install import add_package_hint

    assert add_package_hint("mcp>=2,<3", prefix=prefix, executable=f"{prefix}/bin/python") == expected
