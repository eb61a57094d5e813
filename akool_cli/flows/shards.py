"""Sharded runs that add up: a run's journal, jobs and charges in one portable file, and shards merged
back into one run that `batch status/report/resume/gallery` treat as any other.

The file is gzip-compressed JSON lines: a header (the run), then one line a row, then one a job. It
is read as untrusted input: every field checked (ids, sizes, types) before it reaches the history.
"""

from __future__ import annotations

import gzip
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from akool_cli.core.errors import PartialError, UsageError

if TYPE_CHECKING:
    from akool_cli.store.history import History
    from akool_cli.store.journal import Journal

FORMAT = "akool-run"
VERSION = 1
MAX_LINE = 1024 * 1024  # one row's request is a few KiB; a line beyond this is not ours
ROW_STATES = ("pending", "sending", "submitted", "completed", "failed", "saved", "uncertain")
# When one row is in two shards, the merged row keeps the state that says most about money.
STATE_WEIGHT = {"uncertain": 7, "sending": 6, "saved": 5, "completed": 4, "submitted": 3, "failed": 2, "pending": 1}


def shard_concurrency(concurrency: int, shard: tuple[int, int] | None) -> int:
    """A shard's part of an account-wide --concurrency: N shards together hold C requests at most
    (each gets C // N, the first C % N one more). With more shards than C, each still runs one."""
    if shard is None:
        return concurrency
    k, n = shard
    return max(1, concurrency // n + (1 if k <= concurrency % n else 0))


# ---------------------------------------------------------------- export


def export_run(history: "History", journal: "Journal", run_id: str, target: Path, *, tool: str) -> dict[str, Any]:
    run = journal.run(run_id)
    if run is None:
        raise UsageError(f"no batch run '{run_id}' on this machine", hint="list them with: akool batch list")
    rows = journal.rows(run_id)
    ids = [i for r in rows for i in r.job_ids]
    entries = history.get_many(ids)
    tmp = target.with_name(f".{target.name}.tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as out:
        header = {"format": FORMAT, "version": VERSION, "tool": tool, "exported_at": time.time(),
                  "run": {k: run[k] for k in ("id", "created_at", "manifest", "profile", "base_url")},
                  "settings": json.loads(run.get("settings") or "{}")}
        out.write(json.dumps(header) + "\n")
        for r in rows:
            out.write(json.dumps({"row": {"row": r.row, "key": r.key, "state": r.state, "endpoint": r.endpoint,
                                          "request": r.request, "source": r.source, "output": r.output,
                                          "estimate": r.estimate, "estimate_high": r.estimate_high,
                                          "price_key": r.price_key, "job_ids": r.job_ids, "paths": r.paths,
                                          "error": r.error}}) + "\n")
        from dataclasses import asdict

        for entry in entries.values():
            out.write(json.dumps({"job": asdict(entry)}) + "\n")
    tmp.replace(target)
    return {"run": run_id, "path": str(target), "rows": len(rows), "jobs": len(entries),
            "shard": header["settings"].get("shard")}


# ---------------------------------------------------------------- reading a file (untrusted)


@dataclass
class ShardFile:
    path: str
    run: dict[str, Any]
    settings: dict[str, Any]
    rows: list[dict[str, Any]] = field(default_factory=list)
    jobs: list[dict[str, Any]] = field(default_factory=list)

    @property
    def shard(self) -> tuple[int, int] | None:
        from akool_cli.flows.manifest import parse_shard

        text = self.settings.get("shard")
        return parse_shard(text) if isinstance(text, str) else None


def _lines(path: str) -> Iterator[dict[str, Any]]:
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            for number, line in enumerate(iter(lambda: handle.readline(MAX_LINE + 1), ""), start=1):
                if len(line) > MAX_LINE:
                    raise UsageError(f"'{path}' line {number} is over {MAX_LINE // 1024} KiB",
                                     hint="this is not a file akool batch export wrote")
                item = json.loads(line)
                if not isinstance(item, dict):
                    raise ValueError("not an object")
                yield item
    except (OSError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise UsageError(f"cannot read '{path}': {type(exc).__name__}: {str(exc)[:120]}",
                         hint="pass files written by: akool batch export RUN -o FILE") from None


def read_shard(path: str) -> ShardFile:
    from akool_cli.core.validation import is_job_id

    items = _lines(path)
    header = next(items, None)
    if not header or header.get("format") != FORMAT or header.get("version") != VERSION \
            or not isinstance(header.get("run"), dict):
        raise UsageError(f"'{path}' is not an akool run export (version {VERSION})",
                         hint="write one with: akool batch export RUN -o FILE")
    raw_settings = header.get("settings")
    settings: dict[str, Any] = raw_settings if isinstance(raw_settings, dict) else {}
    shard = ShardFile(path, header["run"], settings)
    for item in items:
        if "row" in item:
            shard.rows.append(_checked_row(path, item["row"], is_job_id))
        elif "job" in item:
            shard.jobs.append(_checked_job(path, item["job"], is_job_id))
    return shard


def _checked_row(path: str, row: Any, is_job_id: Any) -> dict[str, Any]:
    ok = (isinstance(row, dict) and isinstance(row.get("row"), int) and isinstance(row.get("key"), str)
          and row.get("state") in ROW_STATES and isinstance(row.get("request"), dict)
          and isinstance(row.get("job_ids"), list) and all(is_job_id(i) for i in row["job_ids"])
          and isinstance(row.get("paths"), list) and all(isinstance(p, str) for p in row["paths"])
          and row.get("endpoint") in ("create", "batch"))
    if not ok:
        raise UsageError(f"'{path}' holds a row that is not well formed", hint="re-export the run from its machine")
    return row


def _checked_job(path: str, job: Any, is_job_id: Any) -> dict[str, Any]:
    from dataclasses import fields

    from akool_cli.store.history import HistoryEntry

    known = {f.name for f in fields(HistoryEntry)}
    numbers = ("created_at", "expires_at", "updated_at")
    texts = ("kind", "base_url", "profile")
    if not isinstance(job, dict) or not is_job_id(job.get("id")) \
            or not all(isinstance(job.get(k), (int, float)) and not isinstance(job.get(k), bool) for k in numbers) \
            or not all(isinstance(job.get(k), str) and len(job[k]) <= 2048 for k in texts):
        raise UsageError(f"'{path}' holds a job that is not well formed", hint="re-export the run from its machine")
    return {k: v for k, v in job.items() if k in known and (v is None or isinstance(v, (str, int, float)))}


# ---------------------------------------------------------------- merging


@dataclass
class Merged:
    run_id: str
    rows: int
    jobs: int
    shards: list[str]
    missing_shards: list[int]
    doubly_paid: list[int]  # rows with jobs in two shards: both kept, both reported
    outside: list[str]  # rows found in a shard they do not belong to


def merge(history: "History", journal: "Journal", paths: list[str], *, name: str | None) -> Merged:
    files = [read_shard(p) for p in paths]
    _check_same_run(files)
    total = files[0].shard[1] if files[0].shard else 1
    rows: dict[int, dict[str, Any]] = {}
    doubly: list[int] = []
    outside: list[str] = []
    from akool_cli.flows.manifest import in_shard

    for f in files:
        for row in f.rows:
            if f.shard is not None and not in_shard(row["key"], f.shard):
                outside.append(f"row {row['row']} ({f.path})")
            have = rows.get(row["row"])
            if have is None:
                rows[row["row"]] = dict(row)
                continue
            if have["key"] != row["key"]:
                raise UsageError(f"row {row['row']} has key {have['key']!r} in one shard and {row['key']!r} in another",
                                 hint="these files are not shards of the same manifest")
            if have["job_ids"] and row["job_ids"]:
                doubly.append(row["row"])
            _join(have, row)
    run_id = _new_run(journal, files, name)
    journal.add_rows(run_id, [{"row": r["row"], "key": r["key"], "endpoint": r["endpoint"], "request": r["request"],
                               "source": r.get("source"), "output": r.get("output"), "estimate": r.get("estimate"),
                               "estimate_high": r.get("estimate_high"), "price_key": r.get("price_key")}
                              for r in sorted(rows.values(), key=lambda r: r["row"])])
    journal.restore_rows(run_id, [(r["row"], r["state"], r["job_ids"], r["paths"], r.get("error"))
                                  for r in rows.values()])
    jobs = {j["id"]: j for f in files for j in f.jobs}
    history.import_entries(list(jobs.values()))
    seen = {f.shard[0] for f in files if f.shard}
    return Merged(run_id, len(rows), len(jobs), [f.path for f in files],
                  sorted(set(range(1, total + 1)) - seen) if files[0].shard else [], sorted(doubly), outside)


def _check_same_run(files: list[ShardFile]) -> None:
    first = files[0]
    for f in files[1:]:
        for key in ("profile", "base_url"):
            if f.run.get(key) != first.run.get(key):
                raise UsageError(f"'{f.path}' was run with another {key} than '{first.path}'",
                                 hint="merge shards of one account and one service only")
        digest, other = first.settings.get("manifest_sha256"), f.settings.get("manifest_sha256")
        if digest and other and digest != other:
            raise UsageError(f"'{f.path}' was made from another manifest than '{first.path}'",
                             hint="merge the shards of one manifest")
    shards = [f.shard for f in files]
    if any(s is None for s in shards) and len(files) > 1:
        raise UsageError("a file is not a shard (its run had no --shard K/N)", hint="merge the files of --shard runs")
    if len({s[1] for s in shards if s}) > 1:
        raise UsageError("the files are shards of different splits (N differs)", hint="merge K/N files of one N")
    ks = [s[0] for s in shards if s]
    if len(ks) != len(set(ks)):
        duplicate = next(k for k in ks if ks.count(k) > 1)
        raise UsageError(f"shard {duplicate} is given twice", hint="pass each shard's file once")


def _join(have: dict[str, Any], row: dict[str, Any]) -> None:
    """One row seen in two files: every job id kept (never hidden), the state that says most about money."""
    have["job_ids"] = list(dict.fromkeys(have["job_ids"] + row["job_ids"]))
    have["paths"] = list(dict.fromkeys(have["paths"] + row["paths"]))
    if STATE_WEIGHT[row["state"]] > STATE_WEIGHT[have["state"]]:
        have["state"] = row["state"]
    if have["job_ids"] and row["job_ids"] and len(have["job_ids"]) > 1:
        have["error"] = "paid in two shards: jobs " + " ".join(have["job_ids"])


def _new_run(journal: "Journal", files: list[ShardFile], name: str | None) -> str:
    first = files[0]
    settings = dict(first.settings)
    settings.update({"shard": None, "merged_from": [f.run.get("id") for f in files]})
    if name is not None:
        import re

        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}", name):
            raise UsageError(f"--as {name!r} is not a run name", hint="letters, digits, . _ - (up to 64)")
        if journal.run(name) is not None:
            raise UsageError(f"a run named '{name}' exists already", hint="choose another --as NAME")
    return journal.new_run(str(first.run.get("manifest") or ""), str(first.run.get("profile")),
                           str(first.run.get("base_url")), settings, run_id=name)


def report_problems(merged: Merged) -> None:
    """Doubly paid rows are an error to see (exit 7), after the merge is written: nothing is hidden."""
    if merged.doubly_paid:
        raise PartialError(f"{len(merged.doubly_paid)} row(s) were paid in two shards: rows "
                           + ", ".join(map(str, merged.doubly_paid[:20])),
                           hint="both jobs of each are in the merged run (see its report's error column)")
