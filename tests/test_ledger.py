"""The shared ledger on a real PostgreSQL server, started on a loopback port by these fixtures (Debian's
postgresql package; .ci/run installs it). Several homes stand for several machines of one team."""

from __future__ import annotations

import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import Cli, process_env

URL = "https://example.com/cat.png"
KEY = "sandbox-secret-key-24byt"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


class Postgres:
    def __init__(self, root: Path) -> None:
        binaries = _binaries()
        if binaries is None:
            pytest.skip("PostgreSQL is not installed (apt-get install postgresql; .ci/run does it where it can)")
        try:
            import psycopg  # noqa: F401
        except ImportError:
            pytest.skip("psycopg is not installed (pip install -e '.[test]')")
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.run_as: list[str] = []
        if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
            if shutil.which("runuser") is None:
                pytest.skip("running as root without runuser: cannot start PostgreSQL as another user")
            shutil.chown(root, "postgres")
            self.run_as = ["runuser", "-u", "postgres", "--"]
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        data = root / "data"
        subprocess.run([*self.run_as, str(binaries / "initdb"), "-D", str(data), "--auth=trust", "-U", "postgres",
                        "-E", "UTF8"], check=True, capture_output=True, timeout=120)
        self.ctl = [*self.run_as, str(binaries / "pg_ctl"), "-D", str(data)]
        subprocess.run([*self.ctl, "-l", str(root / "log"), "-w", "-o",
                        f"-p {self.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200",
                        "start"], check=True, capture_output=True, timeout=120)
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        self.n = 0

    def database(self) -> str:
        """A fresh database for one test."""
        import psycopg

        self.n += 1
        name = f"akool_{self.n}"
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        subprocess.run([*self.ctl, "-m", "immediate", "stop"], capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def postgres():
    import tempfile

    # Not under pytest's own temp folder: that one is private to root, and the server runs as postgres.
    root = Path(tempfile.mkdtemp(prefix="akool-pg-"))
    try:
        server = Postgres(root)
        yield server
        server.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _machine(tmp_path: Path, name: str, sandbox, ledger: str, **settings) -> Cli:
    runner = Cli(tmp_path / name, env={"PATH": os.environ.get("PATH", ""), "AKOOL_API_KEY": KEY})
    runner.configure(base_url=sandbox.url, poll_interval=0.05, poll_max_interval=0.1, **{"ledger.url": ledger},
                     **settings)
    return runner


def test_every_machine_sees_one_history_and_one_set_of_runs(tmp_path, sandbox, postgres):
    ledger = postgres.database()
    laptop, runner = _machine(tmp_path, "laptop", sandbox, ledger), _machine(tmp_path, "ci", sandbox, ledger)
    made = laptop("create", URL, "--yes", "--json").json()["_id"]
    assert [e["_id"] for e in runner("history", "--json").json()] == [made]
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n" + "".join(f"{URL}?{i},k{i}\n" for i in range(4)))
    run = runner("batch", "run", str(manifest), "--yes", "--json").json()["run"]
    report = laptop("batch", "report", run, "--json").json()
    assert len(report) == 4 and all(r["status"] == "completed" for r in report)
    status = laptop("ledger", "status", "--json").json()
    assert status["jobs"] == 5 and status["runs"] == 1 and status["schema"] == status["schema_expected"]
    assert ledger.split("@")[0] in status["ledger"]
    assert not (tmp_path / "laptop" / "data" / "history.sqlite3").exists()  # nothing local: one ledger


def test_a_daily_cap_holds_for_the_whole_team(tmp_path, sandbox, postgres):
    """A 100-credit day: 20 here, 80 on a teammate's machine, so the next 20 here is refused (alone it was not)."""
    ledger = postgres.database()
    first = _machine(tmp_path, "a", sandbox, ledger, **{"budget.daily": 100})
    second = _machine(tmp_path, "b", sandbox, ledger, **{"budget.daily": 100})
    assert first("create", f"{URL}?1", "--yes").exit_code == 0  # 20 (high estimate 100: fits alone)
    assert second("create", *[f"{URL}?{n}" for n in range(2, 6)], "--yes").exit_code == 0  # 80, at the observed 20
    refused = first("create", f"{URL}?6", "--yes")
    assert refused.exit_code == 12 and "daily" in refused.stderr  # this machine spent 20; the team spent 100
    assert sandbox.count("create") == 5


def test_import_moves_a_local_history_in_once(tmp_path, sandbox, postgres):
    local = Cli(tmp_path / "old", env={"PATH": os.environ.get("PATH", ""), "AKOOL_API_KEY": KEY})
    local.configure(base_url=sandbox.url, poll_interval=0.05, poll_max_interval=0.1)
    ids = [local("create", f"{URL}?{n}", "--yes", "--json").json()["_id"] for n in range(3)]
    manifest = tmp_path / "m.csv"
    manifest.write_text(f"image,key\n{URL}?r,k\n")
    assert local("batch", "run", str(manifest), "--yes").exit_code == 0
    ledger = postgres.database()
    local.configure(base_url=sandbox.url, poll_interval=0.05, poll_max_interval=0.1, **{"ledger.url": ledger})
    first = local("ledger", "import", "--json").json()
    assert first["jobs_new"] == 4 and first["runs"] == 1 and first["rows"] == 1
    again = local("ledger", "import", "--json").json()
    assert again["jobs_new"] == 0 and again["runs"] == 0 and again["rows"] == 0
    assert {e["_id"] for e in local("history", "--json").json()} >= set(ids)


@pytest.mark.parametrize("done", [0, 2, 4, 5, 6])
def test_migrations_run_once_from_every_older_version(postgres, done):
    from akool_cli.store.migrations import MIGRATIONS, current_version, migrate
    from akool_cli.store.pg import PgConnection

    db = PgConnection(postgres.database())
    migrate(db, MIGRATIONS[:done])
    assert db.execute("PRAGMA user_version").fetchone()[0] == done
    assert migrate(db) == current_version() and migrate(db) == current_version()
    names = {r[1] for r in db.execute("PRAGMA table_info(jobs)").fetchall()}
    assert {"estimate_high", "model", "price_key"} <= names
    db.close()


def test_the_password_never_shows(tmp_path, sandbox, postgres):
    cli = Cli(tmp_path / "x", env={"PATH": os.environ.get("PATH", ""), "AKOOL_API_KEY": KEY,
                                   "AKOOL_LEDGER_URL": "postgresql://postgres:s3cret-pass@127.0.0.1:1/none"})
    cli.configure(base_url=sandbox.url)
    shown = cli("config", "get", "ledger.url")
    assert "s3cret-pass" not in shown.stdout and "****" in shown.stdout
    failed = cli("history")
    assert failed.exit_code == 2 and "s3cret-pass" not in failed.stdout + failed.stderr and "****" in failed.stderr
    refused = cli("config", "set", "ledger.url", "postgresql://u:pw@h/db")
    assert refused.exit_code == 2 and "PGPASSWORD" in refused.stderr


def test_three_machines_hold_one_ceiling_and_a_killed_one_pays_nothing_twice(tmp_path, sandbox_factory, postgres):
    """3 worker processes on 3 shards of a 500-row manifest, one account, concurrency 2 across all; one is
    killed with SIGKILL part-way and its run resumed from a fourth machine."""
    sandbox = sandbox_factory(latency=0.01, balance=10.0 ** 6)
    ledger = postgres.database()
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n" + "".join(f"{URL}?row={i},k{i}\n" for i in range(500)))
    workers = []
    for k in (1, 2, 3):
        home = tmp_path / f"w{k}"
        config = home / "config"
        config.mkdir(parents=True)
        config.joinpath("config.toml").write_text(
            f'[profiles.default]\nbase_url = "{sandbox.url}"\n"ledger.url" = "{ledger}"\n'
            # A dead machine's slot is reused once its request can no longer be on the wire.
            'request_deadline = 2.0\n'
            # One daily cap for the team, checked at the high estimate (100 a video until charges are seen).
            '"budget.daily" = 20000\n')
        env = process_env(home, AKOOL_API_KEY=KEY)
        workers.append(subprocess.Popen([sys.executable, "-m", "akool_cli", "batch", "run", str(manifest), "--yes",
                                         "--no-wait", "--shard", f"{k}/3", "--concurrency", "2", "--json"],
                                        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    import psycopg

    def submitted_by_machine_2() -> int:
        with psycopg.connect(ledger) as conn:
            try:
                return conn.execute("SELECT COUNT(*) FROM batch_rows b JOIN batch_runs r ON r.id = b.run_id "
                                    "WHERE r.settings LIKE '%\"shard\": \"2/3\"%' AND b.state = 'submitted'"
                                    ).fetchone()[0]
            except psycopg.errors.UndefinedTable:  # the workers have not made the schema yet
                return 0

    deadline = time.monotonic() + 120
    while submitted_by_machine_2() < 20 and time.monotonic() < deadline:  # part-way through its shard
        time.sleep(0.02)
    workers[1].send_signal(signal.SIGKILL)  # machine 2 dies mid-run, requests on the wire
    outs = [w.communicate(timeout=300) for w in workers]
    assert workers[0].returncode == 0 and workers[2].returncode == 0, (outs[0][1][-500:], outs[2][1][-500:])
    with psycopg.connect(ledger) as conn:
        runs = [r[0] for r in conn.execute("SELECT id FROM batch_runs ORDER BY created_at").fetchall()]
        killed_run = [r for r in runs if json.loads(conn.execute("SELECT settings FROM batch_runs WHERE id = %s",
                                                                    (r,)).fetchone()[0])["shard"] == "2/3"][0]
    laptop = _machine(tmp_path, "laptop", sandbox, ledger)
    resumed = laptop("batch", "resume", killed_run, "--yes", "--no-wait", "--concurrency", "2")
    # 9: rows the dead machine had on the wire are uncertain, said, and never resent unasked.
    assert resumed.exit_code in (0, 9), resumed.stderr
    stats = sandbox.stats()
    assert stats["max_inflight"]["create"] <= 2, stats["max_inflight"]  # one ceiling for three machines
    images = [body["image_url"] for body in sandbox.bodies("create")]
    assert len(images) == len(set(images))  # no row was ever sent twice
    with psycopg.connect(ledger) as conn:
        states = dict(conn.execute("SELECT state, COUNT(*) FROM batch_rows GROUP BY state").fetchall())
        paid = conn.execute("SELECT COUNT(*) FROM batch_rows WHERE job_ids != '[]'").fetchone()[0]
    assert sum(states.values()) == 500 and set(states) <= {"submitted", "uncertain"}, states
    assert states.get("uncertain", 0) <= 2  # at most the requests machine 2 had on the wire
    assert len(images) - paid <= states.get("uncertain", 0)  # creates without a recorded job: only those
    assert (resumed.exit_code == 9) == (states.get("uncertain", 0) > 0) and "NOT sent again" in (
        resumed.stderr if resumed.exit_code == 9 else "NOT sent again")
    assert sandbox.server.state.charged <= 20000  # the team's daily cap, reserved on the ledger, never crossed
    # One report for the whole manifest: the three runs exported from the ledger and merged.
    files = []
    for n, run_id in enumerate(runs):
        out = tmp_path / f"shard-{n}.akool"
        assert laptop("batch", "export", run_id, "-o", str(out)).exit_code == 0
        files.append(str(out))
    merged = laptop("batch", "merge", *files, "--as", "whole", "--json")
    assert merged.exit_code == 0, merged.stderr
    report = laptop("batch", "report", "whole", "--json").json()
    assert [r["row"] for r in report] == list(range(1, 501))
    assert all(len(r["job_ids"]) == 1 for r in report if r["status"] == "submitted")


@pytest.mark.parametrize("fmt", ["table", "json", "jsonl", "csv", "tsv"])
def test_ledger_commands_print_every_format(tmp_path, sandbox, postgres, fmt):
    from test_formats import well_formed

    machine = _machine(tmp_path, "m", sandbox, postgres.database())
    for args in (["ledger", "status"], ["ledger", "migrate"], ["ledger", "import"]):
        result = machine(*args, "--format", fmt)
        assert result.exit_code == 0, (args, result.stderr)
        assert well_formed(fmt, result.stdout), (args, fmt, result.stdout)
    assert machine("ledger", "status", "--format", "ids").exit_code == 2


def test_ledger_commands_without_a_ledger_say_how(cli):
    result = cli("ledger", "status")
    assert result.exit_code == 2 and "ledger.url" in result.stderr
