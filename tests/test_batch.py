"""akool batch: manifests checked whole, journaled runs, resumable without paying twice, reports."""

from __future__ import annotations

import csv
import io
import json
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PNG, CapturedPopen, process_env

from akool_cli.sandbox import SANDBOX_API_KEY

URL = "https://example.com/cat.png"


def _manifest(path: Path, rows: list[dict], fmt: str = "csv") -> Path:
    if fmt == "csv":
        columns = sorted({k for r in rows for k in r}, key=lambda c: (c != "image", c))
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=columns)
            writer.writeheader()
            writer.writerows(rows)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _server_jobs(box) -> list[dict]:
    with box.server.state.lock:
        return [dict(j) for j in box.server.state.jobs.values()]


def test_every_problem_of_the_manifest_is_reported_before_anything_is_sent(online, sandbox, tmp_path):
    path = _manifest(tmp_path / "m.csv", [
        {"image": URL, "effect": "squish"},
        {"image": str(tmp_path / "missing.png"), "effect": "squish"},
        {"image": URL, "effect": "nosuch"},
        {"image": URL, "length": "seven"},
        {"image": "", "effect": "squish"},
    ])
    result = online("batch", "run", str(path), "--yes")
    assert result.exit_code == 2, result.stderr
    for needle in ("row 2", "does not exist", "row 3", "no effect named", "row 4, column length", "row 5, column image"):
        assert needle in result.stderr
    assert sandbox.count("create") == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("image,colour\nhttps://example.com/a.png,red\n")
    unknown = online("batch", "run", str(bad), "--yes")
    assert unknown.exit_code == 2 and "unknown column 'colour'" in unknown.stderr


def test_a_run_saves_named_videos_with_sidecars_and_reports(online, sandbox, tmp_path):
    out = tmp_path / "out"
    path = _manifest(tmp_path / "m.jsonl", [
        {"image": URL, "effect": "squish", "key": "cat"},
        {"image": str(PNG), "model": "seedance", "resolution": "768p", "count": 2, "key": "photo",
         "output": f"{out}/{{key}}-{{model}}-{{index}}.mp4"},
        {"image": URL + "?2", "key": "cat2", "prompt": "waves"},
    ], fmt="jsonl")
    online.configure(base_url=sandbox.url, poll_interval=0.05, **{"upload": {"command": 'echo "https://up.example/$1"'}})
    result = online("batch", "run", str(path), "--yes", "-o", f"{out}/{{key}}.mp4", "--sidecar")
    assert result.exit_code == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["cat.mp4", "cat.mp4.json", "cat2.mp4", "cat2.mp4.json",
                            "photo-seedance-1-0-lite-1.mp4", "photo-seedance-1-0-lite-1.mp4.json",
                            "photo-seedance-1-0-lite-2.mp4", "photo-seedance-1-0-lite-2.mp4.json"])
    side = json.loads((out / "cat.mp4.json").read_text())
    assert side["effect"] == "Squish" and side["credits_charged"] == 20 and side["key"] == "cat"
    run_id = result.stdout.strip()
    report = list(csv.DictReader(io.StringIO(online("batch", "report", run_id).stdout)))
    assert [r["status"] for r in report] == ["saved"] * 3
    server = {j["_id"]: j for j in _server_jobs(sandbox)}
    for r in report:  # the report matches the sandbox's own record
        ids = r["job_ids"].split()
        assert ids and all(i in server for i in ids)
        assert int(r["credits_charged"]) == sum(server[i]["deduction_credit"] for i in ids)
    listed = online("batch", "list", "--json").json()
    assert listed[0]["id"] == run_id and listed[0]["rows"] == 3
    # a second run into the same names never overwrites: it adds a suffix
    again = online("batch", "run", str(path), "--yes", "-o", f"{out}/{{key}}.mp4")
    assert again.exit_code == 0 and (out / "cat-2.mp4").exists()


def test_shards_split_a_manifest_without_overlap(online, sandbox, tmp_path):
    path = _manifest(tmp_path / "m.csv", [{"image": f"{URL}?{i}"} for i in range(30)])
    seen = []
    for k in (1, 2, 3):
        result = online("batch", "run", str(path), "--yes", "--shard", f"{k}/3", "--no-wait", "--json")
        assert result.exit_code == 0, result.stderr
    for job in _server_jobs(sandbox):
        seen.append(job["image_url"])
    assert sorted(seen) == sorted(f"{URL}?{i}" for i in range(30))
    assert online("batch", "run", str(path), "--shard", "4/3").exit_code == 2


def test_a_manifest_from_stdin(online, sandbox):
    result = online("batch", "run", "-", "--manifest-format", "jsonl", "--yes", "--no-wait",
                    stdin=json.dumps({"image": URL}) + "\n")
    assert result.exit_code == 0, result.stderr
    assert online("batch", "run", "-", "--yes", stdin="x").exit_code == 2  # stdin needs a format


def test_budget_applies_to_the_whole_run(online, sandbox, tmp_path):
    path = _manifest(tmp_path / "m.csv", [{"image": f"{URL}?{i}"} for i in range(5)])
    result = online("batch", "run", str(path), "--yes", "--max-credits", "99")
    assert result.exit_code == 12 and "up to 500 credits" in result.stderr and sandbox.count("create") == 0


def _batch_process(box_url: str, home: Path, *args: str) -> CapturedPopen:
    env = process_env(home, AKOOL_BASE_URL=box_url, AKOOL_API_KEY=SANDBOX_API_KEY)
    return CapturedPopen([sys.executable, "-m", "akool_cli", "batch", *args], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)


def _run_ids(home: Path) -> list[str]:
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    return [r[0] for r in db.execute("SELECT id FROM batch_runs ORDER BY created_at")]


@pytest.mark.parametrize("signum,after", [(signal.SIGINT, 20), (signal.SIGTERM, 120), (signal.SIGTERM, 300),
                                          (signal.SIGKILL, 60), (signal.SIGKILL, 250)])
def test_a_500_row_run_killed_and_resumed_pays_once_and_loses_nothing(sandbox_factory, tmp_path, signum, after):
    box = sandbox_factory(latency=0.002)
    home = tmp_path / "home"
    images = [f"{URL}?row={i}" for i in range(500)]
    path = _manifest(tmp_path / "m.csv", [{"image": image} for image in images])
    proc = _batch_process(box.url, home, "run", str(path), "--yes", "--no-wait", "--concurrency", "4")
    deadline = time.time() + 60
    while box.count("create") < after and proc.poll() is None and time.time() < deadline:
        time.sleep(0.005)
    proc.send_signal(signum)
    _, stopped_err = proc.communicate(timeout=60)
    assert "Traceback" not in stopped_err
    [run_id] = _run_ids(home)
    resumed = _batch_process(box.url, home, "resume", run_id, "--yes", "--no-wait", "--json")
    out, err = resumed.communicate(timeout=120)
    assert "Traceback" not in err
    jobs = _server_jobs(box)
    per_image: dict[str, int] = {}
    for job in jobs:
        per_image[job["image_url"]] = per_image.get(job["image_url"], 0) + 1
    assert max(per_image.values()) == 1  # zero duplicate creates
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    recorded = {r[0] for r in db.execute("SELECT id FROM jobs")}
    rows = db.execute("SELECT state, job_ids FROM batch_rows WHERE run_id = ?", (run_id,)).fetchall()
    uncertain = [r for r in rows if r[0] == "uncertain"]
    if signum != signal.SIGKILL:
        # The way on names the run's free follow, and the paid jobs are counted, not listed (300 ids were).
        assert f"batch status {run_id} --watch" in stopped_err, stopped_err
        assert len(re.findall(r"\b[0-9a-f]{24}\b", stopped_err)) <= 5
        assert {j["_id"] for j in jobs} <= recorded  # zero lost: every job the service made is in the history
        assert not uncertain
        assert len(jobs) == 500 and resumed.returncode == 0, err
    else:
        # SIGKILL cannot be caught: a row whose answer was lost is uncertain, listed, and never resent.
        missing = {j["_id"] for j in jobs} - recorded
        assert len(missing) <= len(uncertain) <= 4  # at most the rows in flight (--concurrency 4)
        assert len(jobs) + 0 >= 500 - len(uncertain)
        if uncertain:
            assert resumed.returncode == 9 and "--resend-uncertain" in err
    assert all(r[0] in ("submitted", "uncertain") for r in rows)


def test_resend_uncertain_says_what_it_may_cost(online, sandbox, tmp_path):
    path = _manifest(tmp_path / "m.csv", [{"image": URL}, {"image": URL + "?2"}])
    sandbox.fault("create:503:after")  # the first create reaches the service; its answer is lost
    first = online("batch", "run", str(path), "--yes", "--no-wait", "--concurrency", "1")
    assert first.exit_code == 9, first.stderr
    run_id = first.stdout.strip()
    plain = online("batch", "resume", run_id, "--yes", "--no-wait")
    assert plain.exit_code == 9 and "not resent" in plain.stderr and sandbox.count("create") == 2
    resent = online("batch", "resume", run_id, "--yes", "--no-wait", "--resend-uncertain")
    assert resent.exit_code == 0 and "may pay twice" in resent.stderr and sandbox.count("create") == 3


def test_status_watch_follows_the_run(online, sandbox, tmp_path):
    path = _manifest(tmp_path / "m.csv", [{"image": URL}, {"image": URL + "?2"}])
    run_id = online("batch", "run", str(path), "--yes", "--no-wait").stdout.strip()
    watched = online("batch", "status", run_id, "--watch", "--format", "json")
    assert watched.exit_code == 0
    assert {r["status"] for r in watched.json()} == {"completed"}


def test_download_unsaved_saves_what_would_expire(online, sandbox, tmp_path):
    import time as _time

    first = online("create", URL, "--yes", "--wait", "--json").json()["_id"]
    second = online("create", URL + "?2", "--yes", "--wait", "--json").json()["_id"]
    later = _time.time() + 6.5 * 86400  # both expire in about half a day
    warned = online("history", clock=lambda: later)
    assert "2 paid job(s) with no saved file expire within 24 h" in warned.stderr
    assert "akool download --unsaved" in warned.stderr
    out = tmp_path / "saved"
    saved = online("download", "--unsaved", "--expiring-within", "24", "-o", f"{out}/{{id}}.mp4", "--json",
                   clock=lambda: later)
    assert saved.exit_code == 0, saved.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted([f"{first}.mp4", f"{second}.mp4"])
    again = online("download", "--unsaved")
    assert again.exit_code == 0 and "every completed job of the history is saved" in again.stderr
    assert "expire within 24 h" not in online("history", clock=lambda: later).stderr


@pytest.mark.parametrize("cell", ["../../x.mp4", "/tmp/akool-elsewhere/x.mp4", "out/{key}/../../../x.mp4",
                                  "/dev/null", "~/x.mp4", "out/\x00x.mp4"])
def test_a_manifest_output_cell_cannot_leave_the_run_s_folder(online, sandbox, tmp_path, cell, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = _manifest(tmp_path / "m.jsonl", [{"image": URL, "key": "a", "output": cell},
                                            {"image": URL + "?2", "key": "b"}], fmt="jsonl")
    result = online("batch", "run", str(path), "--yes", "-o", "videos/{key}.mp4")
    assert result.exit_code == 2 and "row 1" in result.stderr, result.stderr
    assert sandbox.count("create") == 0 and not Path("/tmp/akool-elsewhere").exists()


def test_output_cells_under_the_run_s_folder_and_output_anywhere(online, sandbox, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    inside = _manifest(tmp_path / "in.jsonl", [{"image": URL, "key": "a", "output": "videos/sub/{key}.mp4"}],
                       fmt="jsonl")
    assert online("batch", "run", str(inside), "--yes", "-o", "videos/{key}.mp4").exit_code == 0
    assert (tmp_path / "videos" / "sub" / "a.mp4").exists()
    elsewhere = tmp_path / "elsewhere"
    outside = _manifest(tmp_path / "out.jsonl", [{"image": URL, "key": "b", "output": f"{elsewhere}/{{key}}.mp4"}],
                        fmt="jsonl")
    assert online("batch", "run", str(outside), "--yes", "-o", "videos/").exit_code == 2
    done = online("batch", "run", str(outside), "--yes", "-o", "videos/", "--output-anywhere")
    assert done.exit_code == 0, done.stderr
    assert (elsewhere / "b.mp4").exists()


def test_a_dry_run_streams_the_manifest_and_prices_it_whole(online, sandbox, tmp_path):
    manifest = tmp_path / "m.csv"
    rows = ["image,key,model,resolution"] + [f"{URL}?{n},k{n},," for n in range(300)] + \
        [f"{URL}?m{n},m{n},AkoolImage2VideoFastV1,1080p" for n in range(200)]
    manifest.write_text("\n".join(rows) + "\n")
    result = online("batch", "run", str(manifest), "--dry-run", "--json")
    assert result.exit_code == 0, result.stderr
    summary = result.json()
    assert summary["rows"] == 500 and summary["videos"] == 500
    assert summary["estimate"]["low"] == 300 * 20 + 200 * 25 and sandbox.count("create") == 0
    manifest.write_text("image,key\n" + f"{URL},a\n{URL}?2,a\n")
    repeated = online("batch", "run", str(manifest), "--dry-run")
    assert repeated.exit_code == 2 and "repeats row 1" in repeated.stderr


def test_an_empty_manifest_is_refused_with_or_without_dry_run(online, sandbox, tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n")
    for extra in ([], ["--dry-run"]):
        result = online("batch", "run", str(manifest), "--yes", *extra)
        assert result.exit_code == 2 and "no rows" in result.stderr, (extra, result.stderr)
