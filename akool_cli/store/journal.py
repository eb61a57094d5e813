"""The batch journal: runs and rows in the history database, so a killed run resumes without
paying twice. A row is marked `sending` (committed) before its create leaves this machine, from
the worker thread that sends it; a row still `sending` after a stop is `uncertain`: its create
may have reached the service, so it is never resent automatically."""

from __future__ import annotations

import functools
import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, TYPE_CHECKING, Any, Callable, Iterable

from akool_cli.api.models import JobStatus
from akool_cli.store.history import History, HistoryError

if TYPE_CHECKING:
    from akool_cli.store.history import HistoryEntry

FINAL = ("completed", "failed", "saved")
STATES = ("pending", "sending", "submitted", "completed", "failed", "saved", "uncertain")


def body_hash(body: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


@dataclass
class JournalRow:
    run_id: str
    row: int
    key: str
    state: str
    endpoint: str
    body_hash: str
    request_text: str  # the request's JSON as journaled: parsed when asked for (a follow of 10,000 rows
    source: str | None  # reads it only for the rows it saves or resends)
    output: str | None
    estimate: int | None
    price_key: str | None
    job_ids: list[str]
    paths: list[str]
    error: str | None
    estimate_high: int | None = None

    @functools.cached_property
    def request(self) -> dict[str, Any]:
        parsed = json.loads(self.request_text)
        return parsed if isinstance(parsed, dict) else {}

    @classmethod
    def from_row(cls, row: sqlite3.Row) -> "JournalRow":
        return cls(row["run_id"], row["row"], row["key"], row["state"], row["endpoint"], row["body_hash"],
                   row["request"], row["source"], row["output"], row["estimate"], row["price_key"],
                   json.loads(row["job_ids"]), json.loads(row["paths"]), row["error"],
                   row["estimate_high"] if "estimate_high" in row.keys() else None)


class Journal:
    def __init__(self, history: History, clock: Callable[[], float] = time.time) -> None:
        self.history = history
        self.clock = clock
        self._local = threading.local()

    def _db(self) -> sqlite3.Connection:
        return self.history._conn()

    def _thread_db(self) -> Any:
        """Worker threads write `sending` through a connection of their own (SQLite WAL, or the ledger)."""
        return self.history.thread_connection()

    def _many(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        self.history._many(sql, rows)

    def _run(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        return self.history._run(sql, params)

    # ------------------------------------------------------------ runs

    def new_run(self, manifest: str, profile: str, base_url: str, settings: dict[str, Any],
                run_id: str | None = None) -> str:
        run_id = run_id or time.strftime("%Y%m%d-%H%M%S", time.localtime(self.clock())) + "-" + hashlib.sha256(
            f"{self.clock()}{manifest}{id(self)}".encode()).hexdigest()[:6]
        self._run("INSERT INTO batch_runs (id, created_at, manifest, profile, base_url, settings) VALUES (?,?,?,?,?,?)",
                  (run_id, self.clock(), manifest, profile, base_url, json.dumps(settings)))
        return run_id

    def run(self, run_id: str) -> dict[str, Any] | None:
        row = self._run("SELECT * FROM batch_runs WHERE id = ?", (run_id,)).fetchone()
        return dict(row) if row else None

    def runs(self) -> list[dict[str, Any]]:
        rows = self._run("SELECT r.*, COUNT(b.row) AS rows, "
                         "SUM(CASE WHEN b.state IN ('completed', 'saved') THEN 1 ELSE 0 END) AS done, "
                         "SUM(CASE WHEN b.state = 'failed' THEN 1 ELSE 0 END) AS failed, "
                         "SUM(CASE WHEN b.state IN ('uncertain', 'sending') THEN 1 ELSE 0 END) AS uncertain, "
                         "SUM(CASE WHEN b.state = 'pending' THEN 1 ELSE 0 END) AS pending "
                         "FROM batch_runs r LEFT JOIN batch_rows b ON b.run_id = r.id GROUP BY r.id "
                         "ORDER BY r.created_at DESC").fetchall()
        return [dict(r) for r in rows]

    # ------------------------------------------------------------ rows

    def add_rows(self, run_id: str, rows: Iterable[dict[str, Any]]) -> None:
        """Every row of a new run in one transaction; `rows` is read as it is written (a generator keeps a
        100,000-row run from holding every request's JSON at once)."""
        now = self.clock()
        self._many("INSERT OR IGNORE INTO batch_rows (run_id, row, key, state, endpoint, body_hash, request, source, "
                   "output, estimate, price_key, estimate_high, updated_at) VALUES (?,?,?,'pending',?,?,?,?,?,?,?,?,?)",
                   ((run_id, r["row"], r["key"], r["endpoint"], body_hash(r["request"]), json.dumps(r["request"]),
                     r.get("source"), r.get("output"), r.get("estimate"), r.get("price_key"), r.get("estimate_high"),
                     now) for r in rows))

    def restore_rows(self, run_id: str, rows: list[tuple[int, str, list[str], list[str], str | None]]) -> None:
        """Rows brought from another machine (batch merge): their state, jobs, saved paths and error."""
        now = self.clock()
        self._many("UPDATE batch_rows SET state = ?, job_ids = ?, paths = ?, error = ?, updated_at = ? "
                   "WHERE run_id = ? AND row = ?",
                   [(state, json.dumps(ids), json.dumps(paths), error, now, run_id, row)
                    for row, state, ids, paths, error in rows])

    def rows(self, run_id: str, states: Iterable[str] | None = None) -> list[JournalRow]:
        wanted = list(states or [])
        sql = "SELECT * FROM batch_rows WHERE run_id = ?"
        params: list[Any] = [run_id]
        if wanted:
            sql += f" AND state IN ({', '.join('?' for _ in wanted)})"
            params += wanted
        return [JournalRow.from_row(r) for r in self._run(sql + " ORDER BY row", params).fetchall()]

    def report(self, run_id: str) -> Iterator[dict[str, Any]]:
        """One record a row, streamed, with what a report prints and nothing else: the request is not read
        (only its variant count, in SQL), and each row's charge is summed from the history in the query."""
        cursor = self._run(
            "SELECT b.row, b.key, b.source, b.state, b.job_ids, b.paths, b.error, b.estimate, "
            "COALESCE(json_extract(b.request, '$.count'), 1) AS variants, "
            "(SELECT SUM(j.deducted) FROM json_each(b.job_ids) AS ids JOIN jobs AS j ON j.id = ids.value) AS charged "
            "FROM batch_rows AS b WHERE b.run_id = ? ORDER BY b.row", (run_id,))
        for row in cursor:
            yield {"row": row["row"], "key": row["key"], "source": row["source"], "status": row["state"],
                   "job_ids": json.loads(row["job_ids"]), "credits_estimated": (row["estimate"] or 0) * int(
                       row["variants"] if isinstance(row["variants"], int) else 1),
                   "credits_charged": row["charged"], "paths": json.loads(row["paths"]), "error": row["error"]}

    def charged(self, run_id: str) -> int:
        """What the run's jobs cost so far: charged, or (not known) estimated at the high figure; failed
        jobs are refunded; a row that may have created jobs without an answer counts its whole estimate.
        Two queries, whatever the run's size."""
        each = "COALESCE(r.estimate_high, r.estimate, 0)"
        jobs = self._run(
            f"SELECT COALESCE(SUM(CASE WHEN j.status = {int(JobStatus.FAILED)} THEN 0 WHEN j.deducted IS NOT NULL THEN j.deducted "
            f"ELSE {each} END), 0) FROM batch_rows r, json_each(r.job_ids) e LEFT JOIN jobs j ON j.id = e.value "
            "WHERE r.run_id = ? AND r.state IN ('sending', 'submitted', 'completed', 'saved', 'uncertain')",
            (run_id,)).fetchone()[0]
        unanswered = self._run(
            f"SELECT COALESCE(SUM({each} * COALESCE(json_extract(r.request, '$.count'), 1)), 0) FROM batch_rows r "
            "WHERE r.run_id = ? AND r.state IN ('sending', 'uncertain') AND r.job_ids = '[]'", (run_id,)).fetchone()[0]
        return int(jobs) + int(unanswered)

    def counts(self, run_id: str) -> dict[str, int]:
        rows = self._run("SELECT state, COUNT(*) FROM batch_rows WHERE run_id = ? GROUP BY state", (run_id,))
        return {state: n for state, n in rows.fetchall()}

    def set_request(self, run_id: str, row: int, request: dict[str, Any]) -> None:
        self._run("UPDATE batch_rows SET request = ?, body_hash = ?, updated_at = ? WHERE run_id = ? AND row = ?",
                  (json.dumps(request), body_hash(request), self.clock(), run_id, row))

    def mark_sending(self, run_id: str, row: int) -> None:
        """From the worker thread, just before the paid request: committed before it can exist. A claim:
        only a row still `pending` (or `uncertain`, resent on request) is taken, so two processes or
        machines resuming one run can never both send it; a row taken by another raises Refused (not sent)."""
        from akool_cli.core.errors import Refused

        try:
            cursor = self._thread_db().execute(
                "UPDATE batch_rows SET state = 'sending', updated_at = ? WHERE run_id = ? AND row = ? "
                "AND state IN ('pending', 'uncertain')", (self.clock(), run_id, row))
        except sqlite3.DatabaseError as exc:
            raise HistoryError(self.history.where, exc) from None
        if cursor.rowcount == 0:
            raise Refused(f"row {row} was taken by another process")

    def record_job(self, run_id: str, row: int, entry: "HistoryEntry") -> None:
        """From the worker thread that got the answer, at once: the job in the history and the row
        `submitted`, in one transaction (a kill right after the answer loses at most the rows in flight)."""
        from akool_cli.store.history import insert_statement

        db = self._thread_db()
        try:
            db.execute("BEGIN IMMEDIATE")
            try:
                db.execute(*insert_statement(entry))
                self._submitted(db, run_id, row, entry.id)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise HistoryError(self.history.where, exc) from None

    def _submitted(self, db: sqlite3.Connection, run_id: str, row: int, job_id: str) -> None:
        """The row is `submitted`, with this job among its ids (once)."""
        current = db.execute("SELECT job_ids FROM batch_rows WHERE run_id = ? AND row = ?", (run_id, row)).fetchone()
        ids = json.loads(current[0]) if current else []
        if job_id not in ids:
            ids.append(job_id)
        db.execute("UPDATE batch_rows SET state = 'submitted', job_ids = ?, error = NULL, updated_at = ? "
                   "WHERE run_id = ? AND row = ?", (json.dumps(ids), self.clock(), run_id, row))

    def add_job(self, run_id: str, row: int, job_id: str) -> None:
        """From the main thread, when the worker could not record the job itself."""
        try:
            self._submitted(self._db(), run_id, row, job_id)
        except sqlite3.DatabaseError as exc:
            raise HistoryError(self.history.where, exc) from None

    def set_states(self, run_id: str, changes: list[tuple[int, str, str | None]]) -> None:
        """Many rows in one transaction (one a polling tick)."""
        now = self.clock()
        self._many("UPDATE batch_rows SET state = ?, error = ?, updated_at = ? WHERE run_id = ? AND row = ?",
                   [(state, error, now, run_id, row) for row, state, error in changes])

    def add_path(self, run_id: str, row: int, path: Path, all_saved: bool) -> None:
        current = self._run("SELECT paths FROM batch_rows WHERE run_id = ? AND row = ?", (run_id, row)).fetchone()
        paths = json.loads(current[0]) if current else []
        paths.append(str(path))
        self._run("UPDATE batch_rows SET paths = ?, state = CASE WHEN ? THEN 'saved' ELSE state END, updated_at = ? "
                  "WHERE run_id = ? AND row = ?", (json.dumps(paths), all_saved, self.clock(), run_id, row))

    def settle_interrupted(self, run_id: str) -> list[JournalRow]:
        """Rows left `sending` by a run that stopped: their create may exist. They become uncertain."""
        self._run("UPDATE batch_rows SET state = 'uncertain', error = 'the create may have reached the service "
                  "without an answer', updated_at = ? WHERE run_id = ? AND state = 'sending'", (self.clock(), run_id))
        return self.rows(run_id, ["uncertain"])
