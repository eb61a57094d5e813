"""Output and shell: completion in real shells, formats for every listing, JSON errors, tables that fit."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT, process_env

from akool_cli.sandbox import SANDBOX_API_KEY

URL = "https://example.com/cat.png"
BIN = str(Path(sys.executable).parent)


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = process_env(home, **extra)
    env["PATH"] = BIN + os.pathsep + env["PATH"]  # `akool` itself, as the completion scripts call it
    return env


def _complete(home: Path, shell: str, line: str) -> list[str]:
    """The completion protocol, through the real entry point, as each shell's script drives it."""
    words = line.split(" ")
    env = _env(home, _AKOOL_COMPLETE=f"complete_{shell}")
    if shell == "bash":
        env.update(COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    else:
        env["_TYPER_COMPLETE_ARGS"] = line
        env["_TYPER_COMPLETE_FISH_ACTION"] = "get-args"
    done = subprocess.run([sys.executable, "-m", "akool_cli"], env=env, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    if shell == "zsh":  # an _arguments call: ("value":"help" ...)
        import re

        return [v.replace('\\"', '"') for v in re.findall(r'"((?:[^"\\]|\\.)*)"(?=:"|\n|\)\))', done.stdout)]
    return [item for item in done.stdout.split("\n") if item]


@pytest.fixture
def cached_effects(tmp_path, sandbox):
    """The effect cache filled the way a user fills it: one `akool effects`."""
    home = tmp_path / "home"
    done = subprocess.run([sys.executable, "-m", "akool_cli", "effects", "-q"] if False else
                          [sys.executable, "-m", "akool_cli", "effects"],
                          env=_env(home, AKOOL_BASE_URL=sandbox.url, AKOOL_API_KEY=SANDBOX_API_KEY),
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return home


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_protocol_through_the_entry_point(cached_effects, shell):
    home = cached_effects
    first = lambda items: [i.split("\t")[0].split(":::")[0] for i in items]  # noqa: E731 - zsh/fish add help
    assert "create" in first(_complete(home, shell, "akool cre"))
    assert "--effect" in first(_complete(home, shell, "akool create --ef"))
    assert set(first(_complete(home, shell, "akool create -r "))) >= {"720p", "1080p", "4k"}
    assert "jsonl" in first(_complete(home, shell, "akool history --format js"))
    effects = first(_complete(home, shell, "akool create --effect Sak"))
    assert effects and "Sakura" in effects[0]
    if shell == "bash":
        assert effects == ["'Sakura Bloom'"]  # one argument once inserted


def test_shipped_scripts_are_what_akool_completion_prints(tmp_path):
    for shell, name in (("bash", "akool.bash"), ("zsh", "_akool"), ("fish", "akool.fish")):
        done = subprocess.run([sys.executable, "-m", "akool_cli", "completion", shell], env=_env(tmp_path),
                              capture_output=True, text=True, timeout=30)
        assert done.returncode == 0
        assert done.stdout == (ROOT / "completions" / name).read_text().rstrip("\n") + "\n"
    man = subprocess.run([sys.executable, "-m", "akool_cli", "man"], env=_env(tmp_path), capture_output=True,
                         text=True, timeout=30)
    assert man.stdout == (ROOT / "man" / "akool.1").read_text()


@pytest.mark.skipif(shutil.which("bash") is None, reason="bash is not installed")
def test_real_bash_completes_with_the_shipped_script(cached_effects):
    script = f"""
source {ROOT / 'completions' / 'akool.bash'}
COMP_WORDS=(akool cre); COMP_CWORD=1; _akool_completion akool; printf '%s\\n' "${{COMPREPLY[@]}}"
COMP_WORDS=(akool create --effect Sak); COMP_CWORD=3; _akool_completion akool; printf '%s\\n' "${{COMPREPLY[@]}}"
"""
    done = subprocess.run(["bash", "--norc", "-c", script], env=_env(cached_effects), capture_output=True,
                          text=True, timeout=60)
    assert done.stdout.splitlines() == ["create", "'Sakura Bloom'"], done.stderr
    # what bash would insert is one word
    words = subprocess.run(["bash", "--norc", "-c", "printf '%s\\n' akool create --effect 'Sakura Bloom'"],
                           capture_output=True, text=True).stdout.splitlines()
    assert words[-1] == "Sakura Bloom"


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_real_fish_completes_with_the_shipped_script(cached_effects):
    script = (f"source {ROOT / 'completions' / 'akool.fish'}; complete -C 'akool cre'; "
              "complete -C 'akool create --effect Sak'")
    done = subprocess.run(["fish", "--no-config", "-c", script], env=_env(cached_effects), capture_output=True,
                          text=True, timeout=60)
    lines = [line.split("\t")[0] for line in done.stdout.splitlines()]
    assert "create" in lines and any(line.startswith("Sakura") for line in lines), (done.stdout, done.stderr)


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_real_zsh_loads_the_shipped_script_and_completes(cached_effects):
    # Drive zsh's completion system for real: compinit, the shipped function, then a widget-free call
    # of the function with `words` and `CURRENT` set, capturing what it hands to compadd.
    script = f"""
autoload -Uz compinit && compinit -u -d {cached_effects}/zcompdump
source {ROOT / 'completions' / '_akool'}
_arguments() {{ print -r -- "$@" }}
words=(akool cre); CURRENT=2; _akool_completion
"""
    done = subprocess.run(["zsh", "-f", "-c", script], env=_env(cached_effects), capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "create" in done.stdout, (done.stdout, done.stderr)


# ---------------------------------------------------------------- formats for every listing


def test_every_listing_prints_every_format(online, sandbox):
    job = online("create", URL, "--yes", "--wait", "--json").json()["_id"]
    listings = [["status", job], ["history"], ["effects"], ["cost", "--history"]]
    for args in listings:
        for fmt in ("table", "json", "jsonl", "csv", "tsv", "ids"):
            result = online(*args, "--format", fmt)
            assert result.exit_code == 0, (args, fmt, result.stderr)
            out = result.stdout
            if fmt == "json":
                assert isinstance(json.loads(out), list)
            elif fmt == "jsonl":
                assert all(isinstance(json.loads(line), dict) for line in out.splitlines())
            elif fmt in ("csv", "tsv"):
                rows = list(csv.reader(io.StringIO(out), delimiter="," if fmt == "csv" else "\t"))
                assert len(rows) >= 2 and len({len(r) for r in rows}) == 1
            elif fmt == "ids":
                assert out.strip()
    assert online("status", job, "--format", "ids").stdout == job + "\n"
    assert online("history", "--format", "ids").stdout == job + "\n"
    deleted = online("delete", job, "--yes", "--format", "csv")
    assert deleted.stdout.splitlines() == ["_id,result,msg", f"{job},deleted,"]


def test_one_json_vocabulary_for_a_job(online, sandbox):
    created = online("create", URL, "--yes", "--wait", "--json").json()
    status = online("status", created["_id"], "--json").json()[0]
    history = online("history", "--json").json()[0]
    for record in (created, status, history):
        assert {"_id", "status", "status_name", "create_time"} <= record.keys()
    assert created["_id"] == status["_id"] == history["_id"]
    assert abs(history["create_time"] - status["create_time"]) < 1000  # both milliseconds


def test_an_80_column_status_shows_whole_ids(online, sandbox):
    ids = [online("create", URL + f"?{n}", "--yes", "--wait", "--json").json()["_id"] for n in range(2)]
    for tty in (True, False):
        result = online("status", *ids, stdout_tty=tty, env={"COLUMNS": "80"})
        assert result.exit_code == 0
        for job in ids:
            assert job in result.stdout
        assert "…" not in result.stdout
        if tty:
            import re

            visible = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout)  # colours take no columns
            assert max(len(line) for line in visible.splitlines()) <= 80
        else:
            assert "┃" not in result.stdout and "│" not in result.stdout  # piped: no box drawing


def test_empty_listings_exit_0(online, sandbox):
    assert online("status", "--json").exit_code == 0 and online("status", "--json").json() == []
    assert online("history", "--json").json() == []
    empty = online("history", "--format", "csv")
    assert empty.exit_code == 0 and empty.stdout.startswith("_id,")


# ---------------------------------------------------------------- errors


def test_errors_under_json_are_json(online, sandbox):
    result = online("status", "0" * 24, "--json")
    assert result.exit_code == 11
    error = json.loads(result.stderr.splitlines()[-1])["error"]
    assert error["exit_code"] == 11 and "0" * 24 in error["message"] and error["job_ids"] == ["0" * 24]
    usage = online("create", "--json")
    assert usage.exit_code == 2 and json.loads(usage.stderr)["error"]["exit_code"] == 2


@pytest.mark.parametrize("args,needle", [
    (["create", URL, "-r", "8k"], "'8k' is not one of"),
    (["create", URL, "--length", "7"], "'7' is not one of"),
    (["create"], "missing argument"),
    (["creat"], "did you mean 'create'"),
    (["create", URL, "--efect", "x"], "--effect"),
    (["history", "--limit", "0"], "0 is not"),
])
def test_usage_errors_are_one_line(cli, args, needle):
    result = cli(*args)
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and needle in lines[0], result.stderr
    assert "╭" not in result.stderr and "; see: akool" in lines[0]


def test_one_business_error_is_printed_once(online, sandbox):
    sandbox.fault("create:business:code=1003")
    result = online("create", URL, "--yes")
    assert result.exit_code == 4 and result.stderr.count("error:") == 1


def test_akool_alone_prints_help_and_exits_0(cli):
    result = cli()
    assert result.exit_code == 0 and "Usage: akool" in result.stdout


def test_help_leaks_no_type_names(cli):
    from akool_cli.app import COMMANDS

    texts = [(ROOT / "man" / "akool.1").read_text()]
    for name in COMMANDS:
        texts.append(cli(name, "--help").stdout)
    for sub in (["config", "set"], ["webhook", "listen"], ["sandbox", "stop"], ["auth", "login"]):
        texts.append(cli(*sub, "--help").stdout)
    for text in texts:
        for leak in ("<str>", "RANGE", "<int range>", "<float range>", "{IMAGE", "x>=", "<="):
            assert leak not in text


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_narrow_encodings_never_crash(tmp_path, sandbox, encoding):
    env = _env(tmp_path, AKOOL_BASE_URL=sandbox.url, AKOOL_API_KEY=SANDBOX_API_KEY, PYTHONIOENCODING=encoding)
    sandbox.fault("effects:text")  # names with escapes and a non-ASCII tail
    for args in (["effects"], ["cost"], ["create", URL, "--dry-run"], ["create", URL], ["history"],
                 ["create", URL, "--yes", "--wait"], ["status"], ["--help"], ["create", "--help"]):
        done = subprocess.run([sys.executable, "-m", "akool_cli", *args], env=env, capture_output=True, timeout=60)
        assert b"Traceback" not in done.stderr and b"UnicodeEncodeError" not in done.stderr, (args, done.stderr)
        assert done.returncode in (0, 2), (args, done.stderr)


def test_the_command_registry_matches_the_commands():
    """`akool --help` lists commands from the registry without importing them: it must not drift."""
    from akool_cli.app import COMMANDS, load_command

    for name, entry in COMMANDS.items():
        command = load_command(name)
        assert (command.help or "").strip().splitlines()[0] == entry.summary, name
        assert command.rich_help_panel == entry.panel


def test_history_at_120_columns_keeps_the_effect_and_the_local_file(online, sandbox):
    import shutil
    import tempfile

    out = Path(tempfile.mkdtemp(prefix="v", dir="/tmp"))  # a path as long as a home folder's, not pytest's
    try:
        assert online("create", URL, "--effect", "squish", "--yes", "-o", str(out) + "/").exit_code == 0
        table = online("history", stdout_tty=True, env={"COLUMNS": "120"}).stdout
    finally:
        shutil.rmtree(out, ignore_errors=True)
    assert "Effect" in table and "Local file" in table and "Squish" in table


@pytest.mark.skipif(shutil.which("fish") is None, reason="fish is not installed")
def test_real_fish_offers_files_only_where_a_file_goes(cached_effects, tmp_path):
    folder = tmp_path / "cwd"
    folder.mkdir()
    (folder / "photo.png").write_text("x")
    script = "; ".join(f"echo '== {line}'; complete -C '{line}'" for line in (
        "akool ", "akool create -r ", "akool create ", "akool create photo.png -o ", "akool batch run "))
    done = subprocess.run(["fish", "--no-config", "-c", f"source {ROOT / 'completions' / 'akool.fish'}; {script}"],
                          env=_env(cached_effects), capture_output=True, text=True, timeout=60, cwd=folder)
    answers: dict[str, list[str]] = {}
    for line in done.stdout.splitlines():
        if line.startswith("== "):
            current = answers.setdefault(line[3:], [])
        else:
            current.append(line.split("\t")[0])
    assert "create" in answers["akool "] and "photo.png" not in answers["akool "], answers
    assert "720p" in answers["akool create -r "] and "photo.png" not in answers["akool create -r "]
    for where in ("akool create ", "akool create photo.png -o ", "akool batch run "):
        assert "photo.png" in answers[where], (where, answers)
