"""Shards that add up: --shard K/N takes its part of --concurrency, batch export writes a run to one file,
batch merge builds one run from the shards' files (three homes standing for three machines)."""

from __future__ import annotations

import gzip
import json
import os
from pathlib import Path

from conftest import Cli

URL = "https://example.com/cat.png"


def _machine(tmp_path: Path, name: str, sandbox) -> Cli:
    runner = Cli(tmp_path / name, env={"PATH": os.environ.get("PATH", ""),
                                       "AKOOL_API_KEY": "sandbox-secret-key-24byt"})
    runner.configure(base_url=sandbox.url, poll_interval=0.05, poll_max_interval=0.1)
    return runner


def _shards(tmp_path: Path, sandbox, rows: int = 12, shards: int = 3) -> tuple[list[Path], Path]:
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n" + "".join(f"{URL}?{i},k{i}\n" for i in range(rows)))
    files = []
    for k in range(1, shards + 1):
        machine = _machine(tmp_path, f"runner{k}", sandbox)
        made = machine("batch", "run", str(manifest), "--yes", "--shard", f"{k}/{shards}", "--json")
        assert made.exit_code == 0, made.stderr
        out = tmp_path / f"shard-{k}.akool"
        exported = machine("batch", "export", made.json()["run"], "-o", str(out), "--json")
        assert exported.exit_code == 0, exported.stderr
        assert exported.json()["shard"] == f"{k}/{shards}"
        files.append(out)
    return files, manifest


def test_shards_merge_into_one_run_that_reports_and_resumes_as_a_whole(tmp_path, sandbox):
    files, _ = _shards(tmp_path, sandbox)
    laptop = _machine(tmp_path, "laptop", sandbox)
    merged = laptop("batch", "merge", *map(str, files), "--as", "nightly", "--json")
    assert merged.exit_code == 0, merged.stderr
    facts = merged.json()
    assert facts["run_id"] == "nightly" and facts["rows"] == 12 and facts["jobs"] == 12 and not facts["missing_shards"]
    report = laptop("batch", "report", "nightly", "--json").json()
    assert [r["row"] for r in report] == list(range(1, 13)) and all(len(r["job_ids"]) == 1 for r in report)
    assert sum(r["credits_charged"] for r in report) == 240  # the charges came along
    assert len(laptop("history", "--json").json()) == 12
    sandbox.reset()
    assert laptop("batch", "resume", "nightly", "--yes").exit_code == 0
    assert sandbox.count("create") == 0  # every row was paid on its shard: nothing is paid again
    page = tmp_path / "g.html"
    assert laptop("gallery", "nightly", "-o", str(page)).exit_code == 0
    assert page.read_text().count('<article class="card"') == 12


def test_a_missing_shard_is_said_and_a_repeated_one_refused(tmp_path, sandbox):
    files, _ = _shards(tmp_path, sandbox)
    laptop = _machine(tmp_path, "laptop", sandbox)
    partial = laptop("batch", "merge", str(files[0]), str(files[2]))
    assert partial.exit_code == 0 and "shard(s) 2 missing" in partial.stderr
    twice = laptop("batch", "merge", str(files[0]), str(files[0]))
    assert twice.exit_code == 2 and "given twice" in twice.stderr


def test_a_row_paid_in_two_shards_is_reported_never_hidden(tmp_path, sandbox):
    files, _ = _shards(tmp_path, sandbox, rows=6, shards=2)
    lines = [json.loads(line) for line in gzip.open(files[0], "rt")]
    other = [json.loads(line) for line in gzip.open(files[1], "rt")]
    stolen = next(item for item in lines if "row" in item)  # shard 1's row, also "paid" in shard 2
    stolen["row"]["job_ids"] = ["f" * 24]
    with gzip.open(files[1], "wt") as out:
        for item in other + [stolen]:
            out.write(json.dumps(item) + "\n")
    laptop = _machine(tmp_path, "laptop", sandbox)
    merged = laptop("batch", "merge", *map(str, files))
    assert merged.exit_code == 7, merged.stderr
    assert "paid in two shards" in merged.stderr and "does not belong to its shard" in merged.stderr
    run_id = laptop("batch", "list", "--json").json()[0]["id"]
    row = next(r for r in laptop("batch", "report", run_id, "--json").json() if r["row"] == stolen["row"]["row"])
    assert "f" * 24 in row["job_ids"] and len(row["job_ids"]) == 2 and "two shards" in row["error"]


def test_a_file_that_is_not_an_export_is_refused_in_one_line(tmp_path, sandbox):
    laptop = _machine(tmp_path, "laptop", sandbox)
    junk = tmp_path / "junk.akool"
    junk.write_bytes(b"not gzip at all")
    result = laptop("batch", "merge", str(junk))
    assert result.exit_code == 2 and len(result.stderr.strip().splitlines()) == 1
    hostile = tmp_path / "hostile.akool"
    with gzip.open(hostile, "wt") as out:
        out.write(json.dumps({"format": "akool-run", "version": 1, "run": {"id": "x", "profile": "default",
                                                                            "base_url": sandbox.url}}) + "\n")
        out.write(json.dumps({"job": {"id": "../../etc/passwd", "created_at": 1}}) + "\n")
    result = laptop("batch", "merge", str(hostile))
    assert result.exit_code == 2 and "not well formed" in result.stderr


def test_a_shard_takes_its_part_of_the_account_s_concurrency(tmp_path, sandbox_factory):
    box = sandbox_factory(latency=0.1)
    machine = _machine(tmp_path, "runner", box)
    manifest = tmp_path / "m.csv"
    manifest.write_text("image,key\n" + "".join(f"{URL}?{i},k{i}\n" for i in range(20)))
    result = machine("batch", "run", str(manifest), "--yes", "--no-wait", "--shard", "1/2", "--concurrency", "4")
    assert result.exit_code == 0, result.stderr
    assert "2 request(s) at a time" in result.stderr
    assert box.stats()["max_inflight"]["create"] <= 2
    from akool_cli.flows.shards import shard_concurrency

    assert [shard_concurrency(5, (k, 3)) for k in (1, 2, 3)] == [2, 2, 1]  # 5 in all
    assert [shard_concurrency(2, (k, 4)) for k in (1, 2, 3, 4)] == [1, 1, 1, 1]
