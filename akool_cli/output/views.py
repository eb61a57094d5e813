"""Views: jobs, history entries, effects and delete results as plain rows and JSON records.

The one place that knows column names and JSON field names. One vocabulary for a job in every
command: the API's own names (`_id`, `status`, `create_time` in ms, `deduction_credit`,
`video_url`...), plus `status_name`, and where known `local_path`; history entries add what only
this machine knows (`profile`, `base_url`, `estimate`, `expire_time`, `kind`, `source`).
"""

from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Mapping

from akool_cli.api.models import Job, expiry_of
from akool_cli.output.writers import Column, View

if TYPE_CHECKING:
    from akool_cli.api.client import DeleteResult
    from akool_cli.api.models import AiModel, Effect
    from akool_cli.store.history import HistoryEntry

STATUS_STYLES = {"completed": "green", "failed": "red", "processing": "yellow", "queueing": "cyan",
                 "deleted": "dim"}


def _status_style(value: Any) -> str:
    return STATUS_STYLES.get(str(value), "")


def human_duration(seconds: float) -> str:
    seconds = abs(seconds)
    if seconds < 90:
        return f"{seconds:.0f}s"
    if seconds < 5400:
        return f"{seconds / 60:.0f}m"
    if seconds < 172800:
        return f"{seconds / 3600:.0f}h"
    return f"{seconds / 86400:.1f}d"


def expires_in(expires_at: float | None, now: float) -> str:
    if not expires_at:
        return "-"
    left = expires_at - now
    return "expired" if left <= 0 else human_duration(left)


def _ms(seconds: float | None) -> int | None:
    return int(seconds * 1000) if seconds is not None else None


# ---------------------------------------------------------------- jobs (status, create, add-audio)

JOB_COLUMNS = [
    Column("_id", "ID", 0, whole=True),
    Column("status_name", "Status", 0, style=_status_style),
    Column("effect", "Effect", 4),
    Column("resolution", "Res", 5),
    Column("length", "Len", 5),
    Column("credits", "Credits", 3),
    Column("age", "Age", 6),
    Column("expires_in", "Expires in", 2),
    Column("file", "Video", 7, whole=True),
]


# CSV/TSV of jobs: the API's names, raw values (a job's raw JSON may hold anything else: not a column).
JOB_FIELDS = ["_id", "status", "status_name", "create_time", "update_time", "resolution", "video_duration",
              "effect_name", "effect_code", "image_url", "prompt", "audio_type", "deduction_credit", "video_url",
              "pre_video_id", "local_path", "failure_reason"]


def job_record(job: Job, entry: "HistoryEntry | None" = None, saved: Path | None = None) -> dict[str, Any]:
    record = dict(job.raw)
    record["_id"] = job.id
    record["status_name"] = job.status_name
    reason = job.failure_reason or (entry.failure_reason if entry else None)
    if reason:
        record["failure_reason"] = reason
    path = saved or (Path(entry.local_path) if entry and entry.local_path else None)
    if path is not None:
        record["local_path"] = str(path)
    return record


class Lazy:
    """An iterable that makes its items afresh each time it is read: a view's side is built only if it is
    printed (people's cells, machines' records), and a streamed listing is never held whole."""

    def __init__(self, make: Callable[[], Iterable[dict[str, Any]]]) -> None:
        self.make = make

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.make())


def jobs_view(jobs: list[Job], entries: Mapping[str, "HistoryEntry"], saved: Mapping[str, Path], now: float,
              title: str | None = None) -> View:
    records = [job_record(job, entries.get(job.id), saved.get(job.id)) for job in jobs]
    return View(JOB_COLUMNS, Lazy(lambda: _job_rows(jobs, entries, saved, now)), records, title=title,
                empty="no jobs to show", fields=JOB_FIELDS)


def _job_rows(jobs: list[Job], entries: Mapping[str, "HistoryEntry"], saved: Mapping[str, Path],
              now: float) -> list[dict[str, Any]]:
    from akool_cli.pricing.prices import length_of_video

    rows = []
    for job in jobs:
        entry = entries.get(job.id)
        created = job.create_time / 1000 if job.create_time else (entry.created_at if entry else None)
        length = entry.video_length if entry and entry.video_length else None
        if length is None and job.video_duration:
            length = length_of_video(job.video_duration)
        local = saved.get(job.id) or (entry.local_path if entry and entry.local_path else None)
        rows.append({
            "_id": job.id, "status_name": job.status_name,
            "effect": job.effect_name or (entry.effect_name if entry else None) or job.raw.get("model_name")
            or (entry.model if entry else None),
            "resolution": job.resolution, "length": f"{length}s" if length else None,
            "credits": job.deduction_credit, "age": human_duration(now - created) if created else None,
            "expires_in": expires_in(expiry_of(created) if created else None, now),
            "file": str(local) if local else (f"failed: {job.failure_reason}" if job.failure_reason else job.video_url),
        })
    return rows


# ---------------------------------------------------------------- history

HISTORY_COLUMNS = [  # on a narrow terminal the highest numbers go first: kind and profile, then res/len
    Column("_id", "ID", 0, whole=True),
    Column("created", "Created", 4),
    Column("profile", "Profile", 7),
    Column("kind", "Kind", 8),
    Column("effect", "Effect", 3),
    Column("res_len", "Res/Len", 6),
    Column("credits", "Credits", 2),
    Column("status_name", "Status", 0, style=_status_style),
    Column("expires_in", "Expires in", 1),
    Column("local_path", "Local file", 3, whole=True),
]


# A history entry's JSON names: the API's own where it has one, the column's name otherwise.
ENTRY_RENAMES = {"id": "_id", "created_at": "create_time", "expires_at": "expire_time", "updated_at": "update_time",
                 "deducted": "deduction_credit"}
_MS = {"created_at", "expires_at", "updated_at"}  # stored in seconds, said in milliseconds like the API


def entry_record(entry: "HistoryEntry") -> dict[str, Any]:
    """Every field of the entry (a new history column appears here by itself), plus `status_name`."""
    import json

    fields = vars(entry)
    # One comprehension over the fields in order (status_name right after status), then the few values
    # said differently from how they are stored: 100,000 records are one `history --json`.
    names, keys = _entry_keys()
    record = dict(zip(keys, map(fields.get, names)))
    for name in _MS:
        record[ENTRY_RENAMES[name]] = _ms(fields[name])
    record["deleted"] = bool(fields["deleted"])
    record["request"] = json.loads(fields["request"]) if fields["request"] else None
    record["status_name"] = entry.status_name
    return record


@functools.lru_cache(maxsize=1)
def _entry_keys() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """Every HistoryEntry field and its key in a record, in order, status_name after status."""
    from dataclasses import fields

    from akool_cli.store.history import HistoryEntry

    names: list[str] = []
    keys: list[str] = []
    for f in fields(HistoryEntry):
        names.append(f.name)
        keys.append(ENTRY_RENAMES.get(f.name, f.name))
        if f.name == "status":
            names.append("")
            keys.append("status_name")
    return tuple(names), tuple(keys)


def _history_row(entry: "HistoryEntry", now: float) -> dict[str, Any]:
    credits = entry.deducted if entry.deducted is not None else entry.estimate
    return {
        "_id": entry.id, "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(entry.created_at)),
        "profile": entry.profile, "kind": entry.kind, "effect": entry.effect_name or entry.model,
        "res_len": f"{entry.resolution or '-'}/{entry.video_length or '-'}s", "credits": credits,
        "status_name": entry.status_name, "expires_in": expires_in(entry.expires_at, now),
        "local_path": entry.local_path or (f"failed: {entry.failure_reason}" if entry.failure_reason else None),
    }


def _entry_fields() -> list[str]:
    return list(_entry_keys()[1])


def history_view(entries: Callable[[], Iterable["HistoryEntry"]], now: float, count: int | None = None) -> View:
    """`entries` is called once for whichever side is printed: both stay lazy, so `history --json`
    streams in constant memory whatever the history's length."""
    title = f"{count} job(s) in the local history" if count is not None else None
    return View(HISTORY_COLUMNS, Lazy(lambda: (_history_row(e, now) for e in entries())),
                Lazy(lambda: (entry_record(e) for e in entries())),
                title=title, empty="No jobs in the local history yet; create one with: akool create IMAGE",
                fields=_entry_fields())


# ---------------------------------------------------------------- effects, delete, cost history

EFFECT_COLUMNS = [Column("name", "Name", 0), Column("effect_code", "Code", 0, whole=True),
                  Column("video_url", "Preview", 3, whole=True)]


def effects_view(effects: list["Effect"]) -> View:
    ordered = sorted(effects, key=lambda e: e.name.lower())
    rows = [{"name": e.name, "effect_code": e.effect_code, "video_url": e.video_url} for e in ordered]
    return View(EFFECT_COLUMNS, rows, [e.raw for e in ordered], id_key="effect_code",
                title=f"{len(effects)} effects")


DELETE_COLUMNS = [Column("_id", "ID", 0, whole=True), Column("result", "Result", 0), Column("msg", "Reason", 1)]


def delete_view(wanted: list[str], result: "DeleteResult", already: set[str] | frozenset[str] = frozenset()) -> View:
    """`already`: ids the service no longer has that this machine deleted before (a retried delete)."""
    refused = {r.id: r.msg for r in result.refused}
    rows = []
    for job_id in wanted:  # only the ids the user asked about, in their order
        if job_id in result.success_ids:
            rows.append({"_id": job_id, "result": "deleted", "msg": None})
        elif job_id in already:
            rows.append({"_id": job_id, "result": "deleted", "msg": "already gone (deleted earlier)"})
        else:
            rows.append({"_id": job_id, "result": "refused", "msg": refused.get(job_id, "no answer for this id")})
    # JSON: one object, what was deleted and why each other id was not; CSV, TSV and ids: one row an id.
    summary: dict[str, Any] = {"deleted": [r["_id"] for r in rows if r["result"] == "deleted"],
               "refused": [{"_id": r["_id"], "msg": r["msg"]} for r in rows if r["result"] != "deleted"]}
    if already & set(wanted):
        summary["already_gone"] = sorted(already & set(wanted))
    return View(DELETE_COLUMNS, rows, [summary], id_key="deleted", single=True)


SPEND_COLUMNS = [Column("profile", "Profile", 0), Column("base_url", "Base URL", 0, whole=True),
                 Column("jobs", "Jobs", 0), Column("estimated", "Estimated", 1), Column("charged", "Charged", 0),
                 Column("difference", "Difference", 2)]


def spend_view(groups: list[dict[str, Any]]) -> View:
    rows = [{**g, "difference": (g["charged"] - g["estimated"]) if g.get("estimated") is not None
             and g.get("charged") is not None else None} for g in groups]
    return View(SPEND_COLUMNS, rows, id_key="profile", empty="no jobs in the local history yet")


MODEL_COLUMNS = [Column("value", "Model", 0, whole=True), Column("label", "Name", 3), Column("provider", "Provider", 4),
                 Column("resolutions", "Resolutions (credits/s)", 1), Column("durations", "Lengths", 1),
                 Column("audio", "Audio", 2), Column("last_frame", "Last frame", 2), Column("max_count", "Variants", 2),
                 Column("pro", "Pro", 3)]


def models_view(models: list["AiModel"]) -> View:
    rows = []
    for m in models:
        rows.append({
            "value": m.value, "label": m.label, "provider": m.provider,
            "resolutions": " ".join(f"{r.value}:{'?' if r.unit_credit is None else f'{r.unit_credit:g}'}"
                                    for r in m.resolutions),
            "durations": " ".join(f"{d}s" for d in m.durations),
            "audio": "no" if m.audio_multiplier is None else f"x{m.audio_multiplier:g}",
            "last_frame": m.last_frame, "max_count": m.max_count, "pro": m.is_pro,
        })
    return View(MODEL_COLUMNS, rows, [m.raw for m in models], id_key="value", title=f"{len(models)} models")


BATCH_ROW_COLUMNS = [Column("row", "Row", 0), Column("key", "Key", 2, whole=True), Column("status", "Status", 0,
                     style=_status_style), Column("job_ids", "Job ids", 1, whole=True),
                     Column("credits_estimated", "Estimated", 3), Column("credits_charged", "Charged", 3),
                     Column("path", "Path", 4, whole=True), Column("error", "Error", 5), Column("source", "Source", 6)]


BATCH_ROW_FIELDS = ["row", "key", "source", "status", "job_ids", "credits_estimated", "credits_charged", "paths",
                    "error"]


def batch_rows_view(rows: Iterable[dict[str, Any]]) -> View:
    """Records keep lists (`job_ids`, `paths`); people read them space-separated. Machines get the rows
    as they stream from the journal (a 100,000-row report is never held whole); people's table is built
    from the same stream."""
    shown = Lazy(lambda: ({**r, "job_ids": " ".join(r["job_ids"]), "path": " ".join(r["paths"]) or None}
                          for r in rows))
    # CSV/TSV keep the table's columns (ids space-separated: `cut` and `split()` read them), JSON the lists.
    return View(BATCH_ROW_COLUMNS, shown, Lazy(lambda: rows), id_key="job_ids", empty="no rows",
                selectable=BATCH_ROW_FIELDS)


BATCH_RUN_COLUMNS = [Column("id", "Run", 0, whole=True), Column("created", "Created", 2), Column("rows", "Rows", 0),
                     Column("done", "Done", 0), Column("failed", "Failed", 1), Column("uncertain", "Uncertain", 1),
                     Column("pending", "Not sent", 1), Column("profile", "Profile", 3),
                     Column("manifest", "Manifest", 4, whole=True)]


def batch_runs_view(runs: list[dict[str, Any]]) -> View:
    rows = [{**r, "created": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["created_at"]))} for r in runs]
    return View(BATCH_RUN_COLUMNS, rows, [{k: v for k, v in r.items() if k != "settings"} for r in runs],
                id_key="id", empty="no batch runs yet; start one with: akool batch run FILE")


# ---------------------------------------------------------------- uploads (the s3 backend's objects)

UPLOAD_COLUMNS = [Column("key", "Object", 0, whole=True), Column("size", "Size", 2), Column("source", "File", 3),
                  Column("last_used", "Last used", 1), Column("jobs", "Jobs", 2), Column("bucket", "Bucket", 4)]
UPLOAD_FIELDS = ["key", "bucket", "endpoint", "sha256", "size", "kind", "source", "uploaded_at", "last_used_at",
                 "link_expires_at", "deleted_at", "job_ids"]


def uploads_view(rows: list[dict[str, Any]]) -> View:
    from akool_cli.core.text import human_bytes

    shown = [{"key": r["key"], "size": human_bytes(r["size"]), "source": r["source"], "bucket": r["bucket"],
              "last_used": time.strftime("%Y-%m-%d %H:%M", time.localtime(r["last_used_at"])),
              "jobs": " ".join(r["job_ids"]) or None} for r in rows]
    records = [{**{k: r.get(k) for k in UPLOAD_FIELDS},
                **{k: _ms(r.get(k)) for k in ("uploaded_at", "last_used_at", "link_expires_at", "deleted_at")}}
               for r in rows]
    return View(UPLOAD_COLUMNS, shown, records, id_key="key", fields=UPLOAD_FIELDS,
                empty="nothing uploaded yet (upload.backend s3 records what it uploads)")


PRUNE_COLUMNS = [Column("key", "Object", 0, whole=True), Column("result", "Result", 0), Column("msg", "Reason", 1)]


def prune_view(rows: list[dict[str, Any]]) -> View:
    return View(PRUNE_COLUMNS, rows, id_key="key", empty="nothing to prune",
                fields=["key", "result", "msg", "size", "last_used", "job_ids"])
