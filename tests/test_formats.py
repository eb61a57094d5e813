"""--format on every command that writes stdout, generated from the command registry x the writers.

A new command with --format and no sample here fails `test_every_command_with_a_format_has_a_sample`; a
command that prints data without --format fails `test_every_command_that_prints_data_takes_format`.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Callable

import pytest
import typer

from akool_cli.cli import app
from akool_cli.options import FORMATS
from akool_cli.sandbox import SANDBOX_API_KEY, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET
from akool_cli.sandbox import webhooks as sender

URL = "https://example.com/cat.png"
# What prints no data on stdout, or something that is not a listing, and why.
NO_FORMAT = {
    "completion": "prints a shell script to source",
    "man": "prints a man page",
    "mcp": "speaks MCP (JSON-RPC) on stdout",
    "sandbox stop": "stops the background sandbox: says so on stderr",
}


def walk(command: Any, ctx: Any, prefix: str = "") -> dict[str, Any]:
    found = {}
    for name in command.list_commands(ctx):
        sub = command.get_command(ctx, name)
        path = f"{prefix}{name}"
        if hasattr(sub, "list_commands"):
            found.update(walk(sub, ctx, path + " "))
        else:
            found[path] = sub
    return found


def registry() -> dict[str, Any]:
    root = typer.main.get_command(app)
    with typer.Context(root) as ctx:
        return walk(root, ctx)


def takes_format(command: Any) -> bool:
    return any("--format" in getattr(p, "opts", []) for p in command.params)


class Samples:
    """One invocation per command path; what it needs (a job, a run) is made in the sandbox on demand."""

    def __init__(self, online: Any, tmp: Path) -> None:
        self.online, self.tmp, self.n = online, tmp, 0

    def job(self) -> str:
        self.n += 1
        return self.online("create", f"{URL}?{self.n}", "--yes", "--wait", "--json").json()["_id"]

    def run(self) -> str:
        self.n += 1
        manifest = self.tmp / f"m{self.n}.csv"
        manifest.write_text(f"image,key\n{URL}?r{self.n},k{self.n}\n")
        return self.online("batch", "run", str(manifest), "--yes", "--json").json()["run"]

    def export(self) -> str:
        self.n += 1
        path = self.tmp / f"run{self.n}.akool"
        assert self.online("batch", "export", self.run(), "-o", str(path)).exit_code == 0
        return str(path)

    def folder(self) -> str:
        self.n += 1
        return str(self.tmp / f"out{self.n}")

    def manifest(self) -> str:
        self.n += 1
        path = self.tmp / f"m{self.n}.csv"
        path.write_text(f"image,key\n{URL}?m{self.n},k{self.n}\n")
        return str(path)

    def callback(self) -> str:
        self.n += 1
        path = self.tmp / f"callback{self.n}.json"
        body = sender.callback_body({"_id": "689174694b4dbdd4ab3d28c9", "status": 3, "type": "image2video",
                                     "url": "https://example.com/v.mp4"}, SANDBOX_CLIENT_ID, SANDBOX_CLIENT_SECRET)
        path.write_text(json.dumps(body))
        return str(path)


SAMPLES: dict[str, Callable[[Samples], list[str]]] = {
    "create": lambda s: ["create", URL, "--yes"],
    "status": lambda s: ["status", s.job()],
    "effects": lambda s: ["effects"],
    "add-audio": lambda s: ["add-audio", s.job(), "--ai-audio", "--yes"],
    "delete": lambda s: ["delete", s.job(), "--yes"],
    "history": lambda s: ["history"],
    "sync": lambda s: ["sync", "--expiring-within", "0"],
    "download": lambda s: ["download", s.job(), "-o", s.folder()],
    "batch run": lambda s: ["batch", "run", s.manifest(), "--yes"],
    "batch resume": lambda s: ["batch", "resume", s.run()],
    "batch status": lambda s: ["batch", "status", s.run()],
    "batch list": lambda s: ["batch", "list"],
    "batch export": lambda s: ["batch", "export", s.run(), "-o", s.folder() + ".akool"],
    "batch merge": lambda s: ["batch", "merge", s.export()],
    "batch report": lambda s: ["batch", "report", s.run()],
    "webhook listen": lambda s: [],  # a stream: its formats are tested with a real listener in test_webhooks
    "upload": lambda s: [],  # needs a bucket: its formats are tested against a real S3 server in test_uploads_s3
    "uploads list": lambda s: ["uploads", "list"],
    "ledger status": lambda s: [],  # needs a PostgreSQL server: its formats are tested in test_ledger
    "ledger migrate": lambda s: [],
    "ledger import": lambda s: [],
    "gallery": lambda s: ["gallery", "--history", "-o", s.folder() + "/gallery.html"],
    "uploads prune": lambda s: [],  # needs a bucket: tested against a real S3 server in test_uploads_s3
    "webhook decrypt": lambda s: ["webhook", "decrypt", s.callback()],
    "models": lambda s: ["models"],
    "cost": lambda s: ["cost"],
    "balance": lambda s: ["balance"],
    "auth login": lambda s: ["auth", "login", "--with-key", "--no-verify"],
    "auth status": lambda s: ["auth", "status"],
    "auth logout": lambda s: ["auth", "logout"],
    "config list": lambda s: ["config", "list"],
    "config get": lambda s: ["config", "get", "default_resolution"],
    "config set": lambda s: ["config", "set", "default_length", "5"],
    "config unset": lambda s: ["config", "unset", "default_length"],
    "config path": lambda s: ["config", "path"],
}


def test_every_command_with_a_format_has_a_sample():
    with_format = {path for path, command in registry().items() if takes_format(command)}
    assert with_format == set(SAMPLES), "add a sample to SAMPLES for each new command with --format"


def test_every_command_that_prints_data_takes_format():
    assert set(NO_FORMAT) <= set(registry()), "NO_FORMAT names a command that does not exist"
    missing = [path for path, command in registry().items() if not takes_format(command) and path not in NO_FORMAT]
    assert missing == [], "give these --format (options.FormatOption), or say in NO_FORMAT why not"


def well_formed(fmt: str, out: str) -> bool:
    if fmt == "json":
        return isinstance(json.loads(out), (list, dict))
    if fmt == "jsonl":
        return all(isinstance(json.loads(line), dict) for line in out.splitlines())
    if fmt in ("csv", "tsv"):
        rows = list(csv.reader(io.StringIO(out), delimiter="," if fmt == "csv" else "\t"))
        return len(rows) >= 1 and len({len(r) for r in rows}) == 1
    if fmt == "ids":
        return all(line and " " not in line for line in out.splitlines())
    return True


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_command_prints_every_format_or_refuses_it_cleanly(online, sandbox, tmp_path, fmt):
    samples = Samples(online, tmp_path)
    env = {"AKOOL_CLIENT_ID": SANDBOX_CLIENT_ID, "AKOOL_API_KEY": SANDBOX_API_KEY}
    for path, make in SAMPLES.items():
        args = make(samples)
        if not args:
            continue
        result = online(*args, "--format", fmt, env=env, stdin=SANDBOX_API_KEY + "\n")
        if result.exit_code == 2 and f"cannot print --format {fmt}" in result.stderr:
            assert fmt == "ids", (path, "only ids may be refused: every view prints table, json, jsonl, csv, tsv")
            assert result.stdout == ""
            continue
        assert result.exit_code == 0, (path, fmt, result.stderr)
        assert well_formed(fmt, result.stdout), (path, fmt, result.stdout)
        if fmt in ("json", "jsonl") and result.stdout.strip():
            assert "\x1b" not in result.stdout


# ---------------------------------------------------------------- --json FIELD,... (gh's field selection)

def test_every_listing_takes_a_field_list_and_keeps_only_those_fields(online, tmp_path):
    from akool_cli.options import LISTINGS

    samples = Samples(online, tmp_path)
    job = samples.job()
    wanted = {  # a listing and two of its fields
        "history": ("_id,status_name", []), "status": ("status_name,_id", [job]),
        "effects": ("name,effect_code", []), "models": ("value,label", []),
        "sync": ("_id,status", ["--expiring-within", "0"]),
        "batch list": ("id,rows", []), "batch status": ("row,status", [samples.run()]),
        "batch report": ("key,job_ids", [samples.run()]),
    }
    assert set(wanted) | {"uploads list"} == set(LISTINGS)  # uploads list: in test_uploads_s3
    for path, (fields, rest) in wanted.items():
        names = fields.split(",")
        for spelling in (["--json", fields], [f"--json={fields}"]):
            result = online(*path.split(), *rest, *spelling)
            assert result.exit_code == 0, (path, result.stderr)
            records = result.json()
            assert isinstance(records, list) and records, (path, result.stdout)
            assert all(list(r) == names for r in records), (path, records)


def test_a_wrong_field_name_is_a_usage_error_that_lists_the_fields(online):
    result = online("effects", "--json", "name,cod")
    assert result.exit_code == 2 and result.stdout == ""
    error = json.loads(result.stderr)["error"]
    assert "unknown field 'cod'" in error["message"] and "effect_code" in error["hint"]
    assert "status_name" in online("history", "--json=_id,nope").stderr  # a listing with documented fields


def test_a_job_id_after_json_is_still_the_job_id(online, tmp_path):
    job = Samples(online, tmp_path).job()
    result = online("status", "--json", job)
    assert result.exit_code == 0 and result.json()[0]["_id"] == job and "status" in result.json()[0]
    result = online("status", job, "--json", "_id")
    assert result.json() == [{"_id": job}]


def test_field_lists_are_for_listings_only(online):
    result = online("cost", "--json=credits")
    assert result.exit_code == 2 and "no fields to choose from" in result.stderr
    # On a command that is not a listing the next word after --json stays an argument.
    assert online("config", "get", "--json", "default_resolution").exit_code == 0


def test_a_json_listing_is_one_record_a_line_into_a_pipe_and_indented_at_a_terminal(online, tmp_path):
    """Into a pipe, json's C encoder writes each record on its own line (100,000 history records under
    2 s of CPU); a person at a terminal gets them indented. The same records either way."""
    samples = Samples(online, tmp_path)
    samples.job()
    samples.job()
    piped = online("history", "--json")
    lines = piped.stdout.splitlines()
    assert lines[0] == "[" and lines[-1] == "]" and len(lines) == 2 + len(piped.json())
    assert all(json.loads(line.strip().rstrip(",")) for line in lines[1:-1])
    shown = online("history", "--json", stdout_tty=True)
    assert json.loads(shown.stdout) == piped.json() and len(shown.stdout.splitlines()) > 20 * len(piped.json())
    first = piped.json()[0]
    assert list(first)[list(first).index("status") + 1] == "status_name"  # the key order of the fields
