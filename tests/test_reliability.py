"""Fault injection through the CLI: nothing lost, nothing double-charged, never a traceback."""

from __future__ import annotations

import os
import resource
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


# ---------------------------------------------------------------- safe calls: retried, then a distinct exit


TRANSIENT = ["429", "429:retry_after=1", "500", "502", "503", "drop", "slow:seconds=0.6"]


# A timed-out delete did its work on the server, so its retry is refused ("does not exist"): not a clean case.
@pytest.mark.parametrize("command,fault", [(c, f) for c in ("status", "effects", "delete") for f in TRANSIENT
                                           if (c, f) != ("delete", "slow:seconds=0.6")])
def test_safe_calls_recover_from_transient_faults(online, sandbox, fault, command):
    online.configure(base_url=sandbox.url, timeout=0.3, poll_interval=0.05)
    job = online("create", URL, "--yes", "--wait", "--json").json()["_id"]
    endpoint = {"status": "results", "effects": "effects", "delete": "delete"}[command]
    args = {"status": ["status", job], "effects": ["effects", "--refresh"], "delete": ["delete", job, "--yes"]}[command]
    before = sandbox.count(endpoint)
    sandbox.fault(f"{endpoint}:{fault}:times=2")
    result = online(*args, "--json")
    assert result.exit_code == 0, result.stderr
    assert sandbox.count(endpoint) == before + 3


@pytest.mark.parametrize("fault", ["429", "500", "503", "drop", "html"])
@pytest.mark.parametrize("command", ["status", "effects", "delete"])
def test_safe_calls_give_up_with_exit_8(online, sandbox, fault, command):
    online.configure(base_url=sandbox.url, retries=2)
    endpoint = {"status": "results", "effects": "effects", "delete": "delete"}[command]
    args = {"status": ["status", "0" * 24], "effects": ["effects", "--refresh"],
            "delete": ["delete", "0" * 24, "--yes"]}[command]
    sandbox.fault(f"{endpoint}:{fault}:always")
    result = online(*args)
    assert result.exit_code == 8
    assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("error: ")
    assert sandbox.count(endpoint) == 3
    assert sum(online.sleeps) <= 30


# ---------------------------------------------------------------- paid calls: sent once, outcome explained


@pytest.mark.parametrize("fault", ["429", "500", "502", "503", "drop", "html", "truncated", "empty",
                                   "503:after", "drop:after", "slow:seconds=1"])
def test_create_is_never_resent_and_the_user_is_told(online, sandbox, fault):
    online.configure(base_url=sandbox.url, timeout=0.3)
    sandbox.fault(f"create:{fault}")
    result = online("create", URL, "--yes", "--wait")
    assert result.exit_code == 9
    assert "may or may not exist" in result.stderr and "web console" in result.stderr
    assert "akool status" not in result.stderr and "akool history" not in result.stderr  # they cannot show it
    assert sandbox.count("create") == 1


def test_add_audio_is_never_resent(online, sandbox):
    job = online("create", URL, "--yes", "--wait", "--json").json()["_id"]
    sandbox.fault("add_audio:503")
    result = online("add-audio", job, "--ai-audio", "--yes")
    assert result.exit_code == 9 and sandbox.count("add_audio") == 1
    assert "may or may not exist" in result.stderr


def test_create_with_the_server_down_says_nothing_was_sent(online):
    online.configure(base_url="http://127.0.0.1:9")
    result = online("create", URL, "--yes")
    assert result.exit_code == 8 and "nothing was sent" in result.stderr


def test_second_1101_is_exit_3(online, sandbox):
    from akool_cli.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

    env = {"AKOOL_API_KEY": "", "AKOOL_CLIENT_ID": SANDBOX_CLIENT_ID, "AKOOL_CLIENT_SECRET": SANDBOX_CLIENT_SECRET}
    sandbox.fault("effects:business:code=1101:times=5")
    result = online("effects", "--refresh", env=env)
    assert result.exit_code == 3
    assert sandbox.count("token") == 2 and sandbox.count("effects") == 2  # first mint, one re-mint, one retry


@pytest.mark.parametrize("fault,code", [("html", 8), ("empty", 8), ("truncated", 8), ("nocode", 8), ("baddata", 8)])
def test_malformed_status_bodies(online, sandbox, fault, code):
    online.configure(base_url=sandbox.url, retries=0)
    sandbox.fault(f"results:{fault}")
    result = online("status", "0" * 24)
    assert result.exit_code == code and "error:" in result.stderr


def test_unknown_status_number_is_shown_not_crashed_on(online, sandbox):
    job = online("create", URL, "--yes", "--json").json()["_id"]
    sandbox.fault("results:badstatus")
    result = online("status", job, "--json")
    assert result.exit_code == 0 and result.json()[0]["status"] == 7
    sandbox.fault("results:badstatus")
    assert "unknown(7)" in online("status", job).stdout


# ---------------------------------------------------------------- local inputs: exit 2, nothing sent


def _inputs(tmp_path: Path) -> dict[str, str]:
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    text = tmp_path / "notes.png"
    text.write_text("just text, not a picture")
    huge = tmp_path / "huge.png"
    with huge.open("wb") as handle:
        handle.write(b"\x89PNG\r\n\x1a\n")
        handle.truncate(21 * 1024 * 1024)
    return {"missing": str(tmp_path / "nope.png"), "directory": str(tmp_path), "empty": str(empty),
            "text named .png": str(text), "huge": str(huge), "file url": "file:///etc/passwd",
            "ftp url": "ftp://example.com/a.png", "no host": "https://", "unknown user": "~nosuchuser0/a.png"}


@pytest.mark.parametrize("case", ["missing", "directory", "empty", "text named .png", "huge", "file url", "ftp url",
                                  "no host", "unknown user"])
def test_bad_images_fail_before_any_request(online, sandbox, tmp_path, case):
    result = online("create", _inputs(tmp_path)[case], "--yes")
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert sandbox.stats()["requests"] == {}


@pytest.mark.parametrize("args", [["-r", "8k"], ["-l", "7"], ["--concurrency", "0"], ["--timeout", "0"],
                                  ["--timeout", "nan"], ["--timeout", "inf"], ["-o", "/no/such/folder/v.mp4"],
                                  ["--audio", "https://e.com/a.mp3", "--ai-audio"], ["--json", "--quiet"],
                                  ["--webhook", "ftp://x"], ["--audio", "nothing.mp3"]])
def test_bad_flags_fail_before_any_request(online, sandbox, args):
    result = online("create", URL, "--yes", *args)
    assert result.exit_code == 2
    assert sandbox.stats()["requests"] == {}


def test_jpeg_and_webp_are_accepted_by_their_bytes(online, sandbox, tmp_path):
    online.configure(base_url=sandbox.url, **{"upload": {"command": "echo https://cdn.example.com/x"}})
    jpeg = tmp_path / "photo.dat"
    jpeg.write_bytes(b"\xff\xd8\xff\xe0" + b"0" * 100)
    webp = tmp_path / "photo.webp"
    webp.write_bytes(b"RIFF\x00\x00\x00\x00WEBPVP8 " + b"0" * 100)
    assert online("create", str(jpeg), str(webp), "--yes").exit_code == 0
    assert sandbox.count("create") == 2


def test_unreadable_file(tmp_path):
    """Root reads every file, so as root the check runs with the effective uid of 'nobody'."""
    from akool_cli.api.uploads import check_image
    from akool_cli.core.errors import UsageError

    folder = Path("/tmp") / f"akool-unreadable-{os.getpid()}"
    folder.mkdir(mode=0o777, exist_ok=True)
    os.chmod(folder, 0o777)
    secret = folder / "secret.png"
    secret.write_bytes(PNG.read_bytes())
    os.chmod(secret, 0o600 if os.geteuid() == 0 else 0)
    dropped = os.geteuid() == 0
    if dropped:
        os.seteuid(65534)
    try:
        with pytest.raises(UsageError) as caught:
            check_image(str(secret))
    finally:
        if dropped:
            os.seteuid(0)
        secret.unlink()
        folder.rmdir()
    assert "not readable" in caught.value.message and caught.value.exit_code == 2


# ---------------------------------------------------------------- the uploader


@pytest.mark.parametrize("command,needle", [("exit 3", "failed"), ("sleep 5", "ran over"),
                                            ("echo not-a-url", "not an http(s) URL"), ("true", "nothing")])
def test_uploader_failures_create_no_job(online, sandbox, command, needle):
    online.configure(base_url=sandbox.url, **{"upload": {"command": command, "timeout": 0.5}})
    result = online("create", str(PNG), "--yes")
    assert result.exit_code == 2 and needle in result.stderr
    assert sandbox.count("create") == 0


def test_uploader_gets_the_path_both_ways(online, sandbox, tmp_path):
    log = tmp_path / "log"
    online.configure(base_url=sandbox.url, **{"upload": {
        "command": f"echo \"$AKOOL_UPLOAD_FILE\" > {log}; echo {{path}} >> {log}; echo https://cdn.example.com/ok.png"}})
    weird = tmp_path / "my photo's.png"
    weird.write_bytes(PNG.read_bytes())
    assert online("create", str(weird), "--yes").exit_code == 0
    assert log.read_text().splitlines() == [str(weird), str(weird)]


def test_one_failed_upload_in_a_batch_creates_nothing(online, sandbox, tmp_path):
    bad = tmp_path / "second.png"
    bad.write_bytes(PNG.read_bytes())
    online.configure(base_url=sandbox.url, **{"upload": {
        "command": "case {path} in *second*) exit 1;; esac; echo https://cdn.example.com/a.png"}})
    assert online("create", str(PNG), str(bad), "--yes").exit_code == 2
    assert sandbox.count("create") == 0


# ---------------------------------------------------------------- downloads


def test_download_dropped_midstream_leaves_nothing_and_a_rerun_works(online, sandbox, tmp_path):
    job = online("create", URL, "--yes", "--wait", "--json").json()["_id"]
    target = tmp_path / "v.mp4"
    sandbox.fault("video:midstream")
    result = online("download", job, "-o", str(target))
    assert result.exit_code == 8 and "nothing was saved" in result.stderr
    assert not target.exists() and not list(tmp_path.glob(".v.mp4*"))
    assert online("download", job, "-o", str(target)).exit_code == 0
    assert target.read_bytes()[4:8] == b"ftyp"


def _cli_process(sandbox_url: str, home: Path, *args: str, preexec=None) -> subprocess.Popen:
    env = process_env(home, AKOOL_BASE_URL=sandbox_url, AKOOL_API_KEY=SANDBOX_API_KEY)
    return CapturedPopen([sys.executable, "-m", "akool_cli", *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, preexec_fn=preexec)


def test_disk_full_during_download_leaves_nothing(sandbox_factory, tmp_path):
    box = sandbox_factory(video_bytes=4 * 1024 * 1024)
    home = tmp_path / "home"
    job = _cli_process(box.url, home, "create", URL, "--yes", "--wait", "-q")
    job_id = job.communicate(timeout=60)[0].strip()

    def small_disk() -> None:
        # A file-size limit makes writes fail with EFBIG, as a full disk fails them with ENOSPC.
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1024 * 1024, 1024 * 1024))

    target = tmp_path / "out" / "v.mp4"
    target.parent.mkdir()
    proc = _cli_process(box.url, home, "download", job_id, "-o", str(target), preexec=small_disk)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "cannot write" in err and "Traceback" not in err
    assert list(target.parent.iterdir()) == []
    rerun = _cli_process(box.url, home, "download", job_id, "-o", str(target))
    assert rerun.communicate(timeout=60) and rerun.returncode == 0
    assert target.stat().st_size == 4 * 1024 * 1024


def test_ctrl_c_during_download_leaves_nothing(sandbox_factory, tmp_path):
    box = sandbox_factory(video_bytes=16 * 1024 * 1024, video_chunk_delay=0.04)
    home = tmp_path / "home"
    job_id = _cli_process(box.url, home, "create", URL, "--yes", "--wait", "-q").communicate(timeout=60)[0].strip()
    target = tmp_path / "out" / "v.mp4"
    target.parent.mkdir()
    proc = _cli_process(box.url, home, "download", job_id, "-o", str(target))
    deadline = time.time() + 20
    while not list(target.parent.glob(".v.mp4.*.part")) and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err
    assert f"akool download {job_id}" in err
    assert list(target.parent.iterdir()) == []
    rerun = _cli_process(box.url, home, "download", job_id, "-o", str(target))
    assert rerun.communicate(timeout=60) and rerun.returncode == 0
    assert target.stat().st_size == 16 * 1024 * 1024 and list(target.parent.iterdir()) == [target]


# ---------------------------------------------------------------- Ctrl-C while waiting


def test_ctrl_c_while_waiting_exits_130_and_status_resumes(sandbox_factory, tmp_path):
    box = sandbox_factory(queue_seconds=2.5, process_seconds=0.1)
    home = tmp_path / "home"
    proc = _cli_process(box.url, home, "create", URL, "--yes", "--wait")
    deadline = time.time() + 20
    while box.count("results") == 0 and time.time() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err
    assert "akool status --wait" in err
    rows = sqlite3.connect(home / "data" / "history.sqlite3").execute("SELECT id FROM jobs").fetchall()
    assert len(rows) == 1 and box.count("create") == 1
    resumed = _cli_process(box.url, home, "status", "--wait", "--json")
    out, err = resumed.communicate(timeout=60)
    assert resumed.returncode == 0, err
    assert '"status": 3' in out and rows[0][0] in out


# ---------------------------------------------------------------- concurrent history writers


def test_parallel_creates_lose_no_history_entry(sandbox, tmp_path):
    home = tmp_path / "home"
    procs = [_cli_process(sandbox.url, home, "create", f"{URL}?{i}", "--yes", "-q") for i in range(8)]
    ids = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        ids.append(out.strip())
    db = sqlite3.connect(home / "data" / "history.sqlite3")
    assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert sorted(r[0] for r in db.execute("SELECT id FROM jobs")) == sorted(ids)


def test_corrupt_history_is_a_one_line_error(online, sandbox):
    online.paths.data_dir.mkdir(parents=True)
    online.paths.history_file.write_bytes(b"this is not a database" * 100)
    result = online("history")
    assert result.exit_code == 2 and str(online.paths.history_file) in result.stderr


def test_ctrl_c_during_a_batch_submit_records_every_job_the_server_made(sandbox_factory, tmp_path):
    box = sandbox_factory(latency=0.8)
    home = tmp_path / "home"
    proc = _cli_process(box.url, home, "create", *[f"{URL}?{i}" for i in range(6)], "--yes", "--concurrency", "2")
    deadline = time.time() + 20
    while box.count("create") < 2 and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)  # two creates are on the wire right now
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130 and "Traceback" not in err
    made = box.stats()["jobs"]
    assert 2 <= made < 6  # the in-flight ones finished; the rest were never sent
    rows = sqlite3.connect(home / "data" / "history.sqlite3").execute("SELECT COUNT(*) FROM jobs").fetchone()[0]
    assert rows == made
