"""Paid-job integrity: no signal, broken disk or odd answer loses a paid job or leads to paying twice."""

from __future__ import annotations

import multiprocessing
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import PNG, CapturedPopen, process_env

from akool_cli.sandbox import SANDBOX_API_KEY
from akool_cli.store.history import History, HistoryError
from akool_cli.store.migrations import MIGRATIONS, current_version, migrate

URL = "https://example.com/cat.png"


def _akool(box_url: str | None, home: Path, *args: str, **env: str) -> CapturedPopen:
    extra = {"AKOOL_BASE_URL": box_url, "AKOOL_API_KEY": SANDBOX_API_KEY} if box_url else {}
    return CapturedPopen([sys.executable, "-m", "akool_cli", *args], env=process_env(home, **extra, **env),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _history_ids(home: Path) -> set[str]:
    path = home / "data" / "history.sqlite3"
    try:
        return {row[0] for row in sqlite3.connect(path).execute("SELECT id FROM jobs")} if path.exists() else set()
    except sqlite3.OperationalError:  # being created right now
        return set()


def _server_ids(box, images: list[str]) -> set[str]:
    """The jobs the sandbox made for these images (read from its own state, not the client's)."""
    with box.server.state.lock:
        return {job_id for job_id, job in box.server.state.jobs.items() if job.get("image_url") in images}


# ---------------------------------------------------------------- signals


SWEEP = [  # (signals to send, delay before the first, gap between them)
    ([signal.SIGINT, signal.SIGINT], 0.05, 0.3),
    ([signal.SIGINT, signal.SIGINT], 0.5, 0.3),
    ([signal.SIGINT, signal.SIGINT, signal.SIGINT], 0.9, 0.1),
    ([signal.SIGTERM], 0.05, 0),
    ([signal.SIGTERM], 0.5, 0),
    ([signal.SIGTERM], 1.0, 0),
    ([signal.SIGTERM, signal.SIGTERM], 0.7, 0.2),
    ([signal.SIGHUP], 0.4, 0),
    ([signal.SIGINT, signal.SIGTERM], 0.6, 0.3),
]


@pytest.mark.parametrize("signals_sent,delay,gap", SWEEP)
def test_signal_sweep_loses_no_paid_job(sandbox_factory, tmp_path, signals_sent, delay, gap):
    """A slow server (before and after the job exists), 6 images, signals at many points: every job
    the server made is in the history, and the exit code names the first signal."""
    box = sandbox_factory(faults=[])
    box.fault("create:slow:seconds=0.3:always", "create:slow:seconds=0.3:after:always")
    home = tmp_path / "home"
    images = [f"{URL}?sweep={i}" for i in range(6)]
    proc = _akool(box.url, home, "create", *images, "--yes", "--concurrency", "2")
    deadline = time.time() + 20
    while box.count("create") == 0 and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(delay)
    for n, signum in enumerate(signals_sent):
        if n:
            time.sleep(gap)
        if proc.poll() is None:
            proc.send_signal(signum)
    started = time.time()
    _, err = proc.communicate(timeout=30)
    assert time.time() - started < 10  # bounded: in-flight answers are waited for, not the whole batch
    assert "Traceback" not in err
    made = _server_ids(box, images)
    assert made <= _history_ids(home), err  # zero missing
    if proc.returncode != 0:  # finished before the signal: fine
        assert proc.returncode == 128 + signals_sent[0], err
        assert len(made) < 6 or "paid job(s) are in the history" in err
        for job_id in made:
            assert job_id in err  # the message lists what is in the history


def test_jobs_are_recorded_as_answered_not_in_submission_order(sandbox_factory, tmp_path):
    box = sandbox_factory()
    # The first create is the price probe (alone); then image 2 is slow and image 3 answered at once.
    box.fault("create:slow:seconds=20:skip=1")
    home = tmp_path / "home"
    images = [f"{URL}?probe", f"{URL}?slow", f"{URL}?fast"]
    proc = _akool(box.url, home, "create", *images, "--yes", "--concurrency", "2")
    deadline = time.time() + 15  # the interpreter's start-up included; the slow answer takes 20 s
    while len(_history_ids(home)) < 2 and time.time() < deadline:
        time.sleep(0.02)
    proc.kill()  # no chance to clean up: only what was recorded counts
    proc.communicate(timeout=10)
    answered = _server_ids(box, images)  # the slow one's job does not exist yet
    assert len(answered) == 2 and answered <= _history_ids(home)


def _handlers_installed(pid: int) -> bool:
    """True once akool's own signal handlers are in place (SIGTERM caught: Python alone leaves it)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("SigCgt:"):
                return bool(int(line.split()[1], 16) & (1 << (signal.SIGTERM - 1)))
    except (OSError, ValueError):
        pass
    return False


def test_sigint_during_start_up_is_one_line(tmp_path):
    # The interpreter's own start-up comes before any code of ours can run; from the moment our
    # handlers are in place (importing Typer, building the command, parsing), a signal is one line.
    for delay in (0, 0.005, 0.01, 0.02, 0.04, 0.08):
        proc = _akool(None, tmp_path / "home", "cost", "--json")
        deadline = time.time() + 10
        while not _handlers_installed(proc.pid) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.0005)
        time.sleep(delay)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
        assert "Traceback" not in err
        assert proc.returncode in (0, 130)
        assert proc.returncode == 0 or err.startswith("error: interrupted")


def test_ctrl_c_stops_webhook_listen_cleanly(tmp_path):
    proc = _akool(None, tmp_path / "home", "--sandbox", "webhook", "listen", "--port", "0")
    assert proc.stderr is not None
    line = proc.stderr.readline()
    assert "Listening" in line, line
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=20)
    assert proc.returncode == 0 and "listener stopped" in err and "error" not in err


# ---------------------------------------------------------------- the history before spending


def _unusable(kind: str, online) -> None:
    data = online.paths.data_dir
    data.mkdir(parents=True, exist_ok=True)
    if kind == "corrupt":
        online.paths.history_file.write_bytes(b"this is not a database" * 100)
    elif kind == "directory":
        online.paths.history_file.mkdir()
    elif kind == "newer-and-broken":
        db = sqlite3.connect(online.paths.history_file)
        db.execute("CREATE TABLE jobs (id TEXT)")  # a jobs table this version cannot write into
        db.execute("PRAGMA user_version = 99")
        db.commit()


@pytest.mark.parametrize("kind", ["corrupt", "directory", "newer-and-broken"])
def test_an_unusable_history_stops_before_spending(online, sandbox, kind):
    _unusable(kind, online)
    result = online("create", URL, "--yes")
    assert result.exit_code == 2, result.stderr
    assert str(online.paths.history_file) in result.stderr
    assert sandbox.count("create") == 0


def test_a_locked_history_is_refused_before_spending(tmp_path):
    path = tmp_path / "history.sqlite3"
    History(path).prove_writable()
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        with pytest.raises(HistoryError) as caught:
            History(path, busy_timeout=0.2).prove_writable()
        assert "another akool process" in (caught.value.hint or "")
    finally:
        holder.execute("ROLLBACK")


def test_a_full_disk_stops_before_spending(sandbox, tmp_path):
    import resource

    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)

    def small_files() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))  # the history cannot grow past 2 KiB

    proc = subprocess.Popen([sys.executable, "-m", "akool_cli", "create", URL, "--yes"],
                            env=process_env(home, AKOOL_BASE_URL=sandbox.url, AKOOL_API_KEY=SANDBOX_API_KEY),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=small_files)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert "history" in err and "Traceback" not in err
    assert sandbox.count("create") == 0


V0_SCHEMA = """
CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL NOT NULL,
    base_url TEXT NOT NULL, profile TEXT NOT NULL, source TEXT, image_url TEXT, effect_name TEXT, effect_code TEXT,
    resolution TEXT, video_length INTEGER, audio_type INTEGER, estimate INTEGER, deducted INTEGER, status INTEGER,
    video_url TEXT, local_path TEXT, pre_video_id TEXT, deleted INTEGER NOT NULL DEFAULT 0, updated_at REAL NOT NULL,
    request TEXT);
CREATE INDEX jobs_created ON jobs (created_at);
INSERT INTO jobs (id, kind, created_at, expires_at, base_url, profile, updated_at, status)
    VALUES ('aaaaaaaaaaaaaaaaaaaaaaaa', 'create', 1, 2, 'https://openapi.akool.com', 'default', 1, 3);
"""


def test_every_older_schema_version_opens_and_keeps_its_jobs(tmp_path):
    # Version 0 is the file written before the history had a version.
    for version in range(current_version()):
        path = tmp_path / f"v{version}.sqlite3"
        db = sqlite3.connect(path, isolation_level=None)
        if version == 0:
            db.executescript(V0_SCHEMA)
        else:
            migrate(db, MIGRATIONS[:version])
            db.executescript(V0_SCHEMA.split("CREATE INDEX jobs_created ON jobs (created_at);")[1])
        db.close()
        history = History(path)
        history.prove_writable()
        assert history.get("aaaaaaaaaaaaaaaaaaaaaaaa").status == 3
        assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == current_version()
        # Columns added by a HistoryEntry field alone (failure_reason) reach every older file too.
        from akool_cli.api.models import Job

        history.update_from_jobs([Job.from_api({"_id": "a" * 24, "status": 4, "failed_reason": "moderation"})])
        assert history.get("a" * 24).failure_reason == "moderation"


def test_a_new_column_does_not_break_an_old_file_or_an_old_reader(tmp_path):
    path = tmp_path / "h.sqlite3"
    db = sqlite3.connect(path, isolation_level=None)
    db.executescript(V0_SCHEMA)

    def m_new_column(conn: sqlite3.Connection) -> None:
        conn.execute("ALTER TABLE jobs ADD COLUMN from_the_future TEXT")

    assert migrate(db, MIGRATIONS + [m_new_column]) == current_version() + 1
    db.close()
    # This version of akool does not know the column (nor the version): it still reads and writes.
    history = History(path)
    history.prove_writable()
    assert history.get("aaaaaaaaaaaaaaaaaaaaaaaa") is not None
    assert len(history.recent()) == 1


def _open_new_history(path: str, queue) -> None:
    try:
        History(Path(path)).prove_writable()
        queue.put("ok")
    except Exception as exc:  # noqa: BLE001
        queue.put(repr(exc))


def test_processes_opening_a_brand_new_history_at_once(tmp_path):
    ctx = multiprocessing.get_context("fork")
    for trial in range(4):
        path = tmp_path / f"new{trial}.sqlite3"
        queue = ctx.Queue()
        procs = [ctx.Process(target=_open_new_history, args=(str(path), queue)) for _ in range(4)]
        for proc in procs:
            proc.start()
        results = [queue.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join(timeout=30)
        assert results == ["ok"] * 4


# ---------------------------------------------------------------- odd answers


def test_one_unusable_answer_in_a_batch_keeps_the_others(online, sandbox):
    sandbox.fault("create:deep")
    result = online("create", URL, URL + "?2", URL + "?3", "--yes", "--concurrency", "1", "--json")
    assert result.exit_code == 9, result.stderr
    assert len(_history_ids(online.home)) == 2
    assert sandbox.count("create") == 3


def test_absurd_numbers_are_recorded_and_history_keeps_working(online, sandbox):
    sandbox.fault("create:bigint", "results:bigint:always")
    result = online("create", URL, "--yes", "--wait", "--json")
    assert result.exit_code == 0, result.stderr
    assert len(online("history", "--json").json()) == 1
    assert online("history").exit_code == 0


def test_code_1000_with_unusable_data_is_an_unknown_outcome(online, sandbox):
    sandbox.fault("create:baddata")
    result = online("create", URL, "--yes")
    assert result.exit_code == 9 and "NOT sent again" in result.stderr
    assert sandbox.count("create") == 1


def test_an_id_that_is_a_path_is_an_unknown_outcome(online, sandbox):
    sandbox.fault("create:traversal")
    result = online("create", URL, "--yes", "-o", str(online.home / "out") + "/")
    assert result.exit_code == 9
    assert not (online.home / "escaped.mp4").exists() and not list(online.home.rglob("*escaped*"))


def test_exit_9_wins_over_a_business_error(online, sandbox):
    sandbox.fault("create:business:code=1003", "create:503:after")
    result = online("create", URL, URL + "?2", "--yes", "--concurrency", "1")
    assert result.exit_code == 9, result.stderr
    assert sandbox.count("create") == 2


def test_a_job_missing_from_results_is_waited_for_and_saved(online, sandbox, tmp_path):
    sandbox.fault("results:omit:times=4")
    out = tmp_path / "v.mp4"
    result = online("create", URL, "--yes", "-o", str(out))
    assert result.exit_code == 0, result.stderr
    assert out.exists() and out.stat().st_size > 0


def test_create_o_never_exits_0_without_the_file(online, sandbox, tmp_path):
    sandbox.fault("results:omit:always")
    out = tmp_path / "v.mp4"
    result = online("create", URL, "--yes", "-o", str(out), "--timeout", "1")
    # Given up (6), or the new job never listed within its polls (8): never 0, never a missing file.
    assert result.exit_code in (6, 8) and not out.exists()
    job_id = next(iter(_history_ids(online.home)))
    assert f"akool status --wait {job_id} -o {out}" in result.stderr


def test_a_failed_download_names_the_job_and_the_free_command(online, sandbox, tmp_path):
    sandbox.fault("video:404:always")
    out = tmp_path / "v.mp4"
    result = online("create", URL, "--yes", "-o", str(out))
    assert result.exit_code == 8
    job_id = next(iter(_history_ids(online.home)))
    assert f"akool download {job_id} -o {out}" in result.stderr
    assert "run the command again" not in result.stderr and "try again" not in result.stderr
    assert sandbox.count("create") == 1


# ---------------------------------------------------------------- --sandbox is a wall; hints paste


def test_sandbox_ignores_a_real_base_url_and_key(cli, sandbox):
    cli.configure("sandbox", sandbox_port=sandbox.server.server_address[1], poll_interval=0.05)
    env = {"AKOOL_BASE_URL": "http://127.0.0.1:9/real", "AKOOL_API_KEY": "sk-test-secret-0123456789abcdef"}
    result = cli("--sandbox", "create", URL, "--yes", "--json", env=env)
    assert result.exit_code == 0, result.stderr
    assert "--sandbox ignores AKOOL_BASE_URL" in result.stderr
    assert sandbox.count("create") == 1
    assert all(h.get("x-api-key") == SANDBOX_API_KEY for h in sandbox.headers("create"))


def test_dry_run_and_cost_panel_name_the_target(cli, sandbox):
    cli.configure("sandbox", sandbox_port=sandbox.server.server_address[1])
    dry = cli("--sandbox", "create", URL, "--dry-run")
    assert "sandbox at 127.0.0.1" in dry.stderr and "no credits" in dry.stderr
    asked = cli("--sandbox", "create", URL, stdin_tty=True, confirm=lambda q: False)
    assert asked.exit_code == 10 and "sandbox at 127.0.0.1" in asked.stderr


def test_resume_hints_carry_sandbox_profile_and_output(cli, sandbox, tmp_path):
    cli.configure("sandbox", sandbox_port=sandbox.server.server_address[1], poll_interval=0.05)
    sandbox.fault("results:omit:always")
    out = tmp_path / "v.mp4"
    result = cli("--sandbox", "create", URL, "--yes", "-o", str(out), "--timeout", "1")
    job_id = next(iter(_history_ids(cli.home)))
    hint = f"akool --sandbox status --wait {job_id} -o {out}"
    assert hint in result.stderr
    sandbox.reset()
    pasted = cli(*hint.split()[1:])
    assert pasted.exit_code == 0, pasted.stderr
    assert out.exists()


def test_parallel_sandbox_commands_share_one_background_sandbox(tmp_path):
    from test_webhooks import free_port

    home = tmp_path / "home"
    port = free_port()
    env = {"AKOOL_SANDBOX_PORT_FOR_TEST": str(port)}
    subprocess.run([sys.executable, "-m", "akool_cli", "--sandbox", "config", "set", "sandbox_port", str(port)],
                   env=process_env(home), check=True, capture_output=True)
    subprocess.run([sys.executable, "-m", "akool_cli", "--sandbox", "config", "set", "poll_interval", "0.1"],
                   env=process_env(home), check=True, capture_output=True)
    procs = [_akool(None, home, "--sandbox", "create", str(PNG), "--effect", "squish", "--yes", "--wait", "-q",
                    **env) for _ in range(8)]
    codes = []
    for proc in procs:
        out, err = proc.communicate(timeout=120)
        codes.append((proc.returncode, err))
    assert [c for c, _ in codes] == [0] * 8, codes
    assert len(_history_ids(home)) == 8
    stopped = subprocess.run([sys.executable, "-m", "akool_cli", "--sandbox", "sandbox", "stop"],
                             env=process_env(home), capture_output=True, text=True, timeout=30)
    assert stopped.returncode == 0 and "stopped" in stopped.stderr


def test_client_credentials_mint_at_most_retries_plus_one_times(cli, sandbox):
    from akool_cli.sandbox import SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET

    cli.configure(base_url=sandbox.url, retries=2)
    sandbox.fault("token:503:always")
    result = cli("status", "a" * 24, env={"AKOOL_CLIENT_ID": SANDBOX_CLIENT_ID,
                                          "AKOOL_CLIENT_SECRET": SANDBOX_CLIENT_SECRET})
    assert result.exit_code == 8
    assert sandbox.count("token") <= 3


def test_end_of_input_at_a_prompt_is_a_no(online, sandbox):
    def eof(question: str) -> bool:
        raise EOFError

    result = online("create", URL, stdin_tty=True, confirm=eof)
    assert result.exit_code == 10 and "--yes" not in result.stderr
    assert sandbox.count("create") == 0
