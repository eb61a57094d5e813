"""`akool sandbox` as a user runs it: a separate process that the CLI finds with --sandbox."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

from conftest import PNG, ROOT, CapturedPopen, process_env
from test_webhooks import free_port


def akool(home, *args):
    done = subprocess.run([sys.executable, "-m", "akool_cli", *args], env=process_env(home), capture_output=True,
                          text=True, timeout=60)
    from conftest import capture

    capture(done.stdout, done.stderr)
    return done


def test_sandbox_serves_prints_its_key_and_keeps_state_until_stopped(tmp_path):
    port = free_port()
    assert akool(tmp_path, "--sandbox", "config", "set", "sandbox_port", str(port)).returncode == 0
    assert akool(tmp_path, "--sandbox", "config", "set", "poll_interval", "0.1").returncode == 0
    # No --port: `akool sandbox` listens where `akool --sandbox` looks, the sandbox profile's port.
    server = CapturedPopen([sys.executable, "-m", "akool_cli", "sandbox", "--queue-seconds",
                            "0.1", "--process-seconds", "0.2", "--fresh"], env=process_env(tmp_path),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = server.stdout.readline()
        assert first.split() == ["base_url", f"http://127.0.0.1:{port}"]
        assert server.stdout.readline().split() == ["api_key", "sandbox-secret-key-24byt"]
        created = akool(tmp_path, "--sandbox", "create", str(PNG), "--effect", "cakeify", "--yes", "-q")
        assert created.returncode == 0, created.stderr
        job_id = created.stdout.strip()
        time.sleep(0.5)
        status = akool(tmp_path, "--sandbox", "status", job_id, "--json")
        assert '"status": 3' in status.stdout
        deleted = akool(tmp_path, "--sandbox", "delete", job_id, "--yes")
        assert deleted.returncode == 0
        after = akool(tmp_path, "--sandbox", "status", job_id)
        assert after.returncode == 11 and "not found" in after.stderr  # the deletion was kept
    finally:
        server.send_signal(signal.SIGINT)
        _, err = server.communicate(timeout=20)
    assert server.returncode == 0 and "sandbox stopped" in err and "Traceback" not in err


def test_sandbox_json_banner(tmp_path):
    import json

    port = free_port()
    server = CapturedPopen([sys.executable, "-m", "akool_cli", "sandbox", "--port", str(port), "--json"],
                           env=process_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        banner = json.loads(server.stdout.readline())
    finally:
        server.send_signal(signal.SIGINT)
        server.communicate(timeout=20)
    assert banner == {"base_url": f"http://127.0.0.1:{port}", "api_key": "sandbox-secret-key-24byt",
                      "client_id": "sandbox-client16"}


def test_sandbox_rejects_bad_options(tmp_path):
    bad = akool(tmp_path, "sandbox", "--fault", "create")
    assert bad.returncode == 2 and "ENDPOINT:KIND" in bad.stderr
    assert akool(tmp_path, "sandbox", "--plan", "gold").returncode == 2


def test_sandbox_port_in_use_is_a_clear_error(tmp_path):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = akool(tmp_path, "sandbox", "--port", str(port))
    assert result.returncode == 2 and "cannot listen" in result.stderr


def test_readme_quick_start_uses_an_embedded_sandbox_that_remembers_jobs(cli, tmp_path):
    """README command 1: `akool --sandbox create examples/photo.png ...` with no sandbox running."""
    port = free_port()
    cli.configure("sandbox", sandbox_port=port, poll_interval=0.2)
    out = tmp_path / "squish.mp4"
    first = cli("--sandbox", "create", str(PNG), "--effect", "squish", "--yes", "--force", "-o", str(out), "--json")
    assert first.exit_code == 0, first.stderr
    assert out.read_bytes()[4:8] == b"ftyp"
    job_id = first.json()["_id"]
    # The embedded sandbox stopped with that command; the next one starts another from the saved state.
    again = cli("--sandbox", "status", "--json")
    assert again.exit_code == 0, again.stderr
    assert [job["_id"] for job in again.json()] == [job_id]
    assert cli.paths.sandbox_state_file.exists() or cli.paths.sandbox_state_file.with_suffix(".log").exists()


def test_sandbox_ignores_a_real_key_in_the_environment(cli, tmp_path):
    cli.configure("sandbox", sandbox_port=free_port())
    result = cli("--sandbox", "effects", "--json", env={"AKOOL_API_KEY": "sk-test-secret-0123456789abcdef"})
    assert result.exit_code == 0, result.stderr
    assert cli("--sandbox", "auth", "status", "--json").json()["source"] == "sandbox"


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    command = "python3 -m venv .venv && .venv/bin/pip install -q -e '.[test]' && .venv/bin/python -m pytest"
    assert readme.count(command) == 1 and command in ci


def test_sandbox_stop_stops_only_this_user_s_sandbox(tmp_path):
    port = free_port()
    owner, other = tmp_path / "owner", tmp_path / "other"
    for home in (owner, other):
        assert akool(home, "--sandbox", "config", "set", "sandbox_port", str(port)).returncode == 0
    server = CapturedPopen([sys.executable, "-m", "akool_cli", "sandbox", "--fresh"], env=process_env(owner),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stdout.readline().split()[0] == "base_url"
        refused = akool(other, "--sandbox", "sandbox", "stop")  # same port, another user's data folder
        assert refused.returncode == 2 and "not started by this user" in refused.stderr
        assert server.poll() is None  # still serving
        stopped = akool(owner, "--sandbox", "sandbox", "stop")
        assert stopped.returncode == 0 and "stopped" in stopped.stderr
        server.communicate(timeout=20)
        assert server.returncode == 0
    finally:
        if server.poll() is None:
            server.kill()
            server.communicate(timeout=20)


def test_a_sandbox_out_of_credits_says_how_to_reset_it_not_to_top_up(tmp_path, sandbox_factory):
    import os

    from conftest import Cli

    box = sandbox_factory(balance=10)
    runner = Cli(tmp_path, env={"PATH": os.environ.get("PATH", "")})
    runner.configure(profile="sandbox", base_url=box.url)
    result = runner("--profile", "sandbox", "create", "https://example.com/cat.png", "--yes")
    assert result.exit_code == 13 and "--fresh" in result.stderr and "top up" not in result.stderr
    assert box.count("create") == 0
