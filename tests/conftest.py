"""Shared fixtures: a real sandbox on a free loopback port, and a CLI driven through injected I/O."""

from __future__ import annotations

import io
import json
import os
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import pytest
from typer.testing import CliRunner

from akool_cli.cli import app
from akool_cli.config import Paths
from akool_cli.context import Runtime
from akool_cli.sandbox import SANDBOX_API_KEY, SandboxConfig, start_sandbox

# Every secret a test uses. A session-wide check greps all captured CLI output for them.
TEST_SECRETS = [SANDBOX_API_KEY, "sk-test-secret-0123456789abcdef"]
_CAPTURED: list[str] = []

ROOT = Path(__file__).resolve().parent.parent
PNG = ROOT / "examples" / "photo.png"


class FakeClock:
    """A clock a test moves by hand: the sandbox's jobs age only when told to."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Sandbox:
    """A running sandbox plus its HTTP control surface (the same one a person could curl)."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.url = server.base_url

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(self.url + path, data=data, method=method)
        with urllib.request.urlopen(request, timeout=5) as answer:
            return json.loads(answer.read() or b"null")

    def stats(self) -> dict[str, Any]:
        return self._call("GET", "/_sandbox/control/stats")

    def fault(self, *specs: str | dict[str, Any]) -> None:
        self._call("POST", "/_sandbox/control/faults", list(specs))

    def reset(self) -> None:
        self._call("POST", "/_sandbox/control/reset")

    def expire_tokens(self) -> None:
        self._call("POST", "/_sandbox/control/expire-tokens")

    def count(self, endpoint: str) -> int:
        return self.stats()["requests"].get(endpoint, 0)

    def bodies(self, endpoint: str) -> list[Any]:
        return [entry["body"] for entry in self.stats()["log"] if entry["endpoint"] == endpoint]

    def headers(self, endpoint: str) -> list[dict[str, str]]:
        return [entry["headers"] for entry in self.stats()["log"] if entry["endpoint"] == endpoint]


@pytest.fixture(autouse=True)
def _stop_background_sandboxes(tmp_path: Path):
    """`--sandbox` starts a detached sandbox; a test's own ones end with the test."""
    yield
    import signal as _signal

    for pid_file in tmp_path.rglob("sandbox.pid"):
        try:
            os.kill(int(pid_file.read_text()), _signal.SIGTERM)
        except (OSError, ValueError):
            pass


@pytest.fixture
def sandbox_factory(tmp_path: Path):
    servers = []

    def make(clock: Callable[[], float] = time.time, **overrides: Any) -> Sandbox:
        settings = {"port": 0, "queue_seconds": 0.05, "process_seconds": 0.1, **overrides}
        config = SandboxConfig(**settings)
        server = start_sandbox(config, clock)
        servers.append(server)
        return Sandbox(server)

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def sandbox(sandbox_factory) -> Sandbox:
    return sandbox_factory()


@dataclass
class Outcome:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)


@dataclass
class Cli:
    """Runs `akool ...` in-process with an injected Runtime: env, TTYs, clock, prompts."""

    home: Path
    env: dict[str, str]
    sleeps: list[float] = field(default_factory=list)

    @property
    def paths(self) -> Paths:
        return Paths(self.home / "config", self.home / "data", self.home / "cache")

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        time.sleep(min(seconds, 0.02))

    def __call__(self, *args: str, env: dict[str, str] | None = None, stdin: str = "", stdin_tty: bool = False,
                 stdout_tty: bool = False, stderr_tty: bool = False, confirm: Callable[[str], bool] | None = None,
                 read_secret: Callable[[str], str] | None = None, clock: Callable[[], float] = time.time) -> Outcome:
        out, err = io.StringIO(), io.StringIO()
        runtime = Runtime(env={**self.env, **(env or {})}, stdin=io.StringIO(stdin), stdout=out, stderr=err,
                          stdin_tty=stdin_tty, stdout_tty=stdout_tty, stderr_tty=stderr_tty, clock=clock,
                          sleep=self.sleep, paths=self.paths, confirm=confirm, read_secret=read_secret)
        result = CliRunner().invoke(app, list(args), obj=runtime, catch_exceptions=False)
        outcome = Outcome(result.exit_code, result.stdout + out.getvalue(), result.stderr + err.getvalue())
        _CAPTURED.append(outcome.stdout + outcome.stderr)
        assert "Traceback" not in outcome.stderr, outcome.stderr
        return outcome

    def configure(self, profile: str = "default", **values: Any) -> None:
        import tomli_w

        self.paths.config_dir.mkdir(parents=True, exist_ok=True)
        self.paths.config_file.write_text(tomli_w.dumps({"profiles": {profile: values}}))


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    """A CLI with no credentials and no server: for offline commands."""
    return Cli(tmp_path, env={"PATH": os.environ.get("PATH", "")})


@pytest.fixture
def online(tmp_path: Path, sandbox: Sandbox) -> Cli:
    """A CLI pointed at the test's sandbox with its API key, polling fast."""
    runner = Cli(tmp_path, env={"PATH": os.environ.get("PATH", ""), "AKOOL_API_KEY": SANDBOX_API_KEY})
    runner.configure(base_url=sandbox.url, poll_interval=0.05, poll_max_interval=0.1)
    return runner


def capture(*texts: str) -> None:
    """Add output of a CLI run in a subprocess to what the redaction check reads."""
    _CAPTURED.extend(t for t in texts if t)


def process_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of an `akool` run in a subprocess: its own folders, this checkout importable."""
    return {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), "AKOOL_CONFIG_DIR": str(home / "config"),
            "AKOOL_DATA_DIR": str(home / "data"), "AKOOL_CACHE_DIR": str(home / "cache"), **extra}


class CapturedPopen(subprocess.Popen):
    """A Popen whose output also goes to the redaction check."""

    def communicate(self, *args: Any, **kwargs: Any) -> Any:
        out, err = super().communicate(*args, **kwargs)
        capture(out or "", err or "")
        return out, err


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Redaction, checked over everything the suite captured: no test secret ever reached output."""
    leaked = [s for s in TEST_SECRETS for text in _CAPTURED if s in text]
    if leaked:
        session.exitstatus = 1
        print(f"\nSECRET LEAK: {sorted(set(leaked))} appeared in CLI output")
