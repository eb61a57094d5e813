"""The local job history: every job this machine paid for, in SQLite (safe across processes)."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

from akool_cli.api.models import FINAL_STATUSES, Job, JobStatus, expiry_of, status_name
from akool_cli.core.errors import ConfigError
from akool_cli.store.migrations import migrate

if TYPE_CHECKING:
    from akool_cli.api.s3 import StoredObject


@dataclass
class HistoryEntry:
    id: str
    kind: str  # "create" or "add-audio"
    created_at: float
    expires_at: float
    base_url: str
    profile: str
    updated_at: float
    source: str | None = None
    image_url: str | None = None
    effect_name: str | None = None
    effect_code: str | None = None
    resolution: str | None = None
    video_length: int | None = None
    audio_type: int | None = None
    estimate: int | None = None
    deducted: int | None = None
    status: int | None = None
    video_url: str | None = None
    local_path: str | None = None
    pre_video_id: str | None = None
    deleted: int = 0
    request: str | None = None
    model: str | None = None
    price_key: str | None = None
    estimate_high: int | None = None
    failure_reason: str | None = None
    cover_url: str | None = None  # the service's poster image of the video, when it sends one

    @property
    def status_name(self) -> str:
        return "deleted" if self.deleted else status_name(self.status)


COLUMNS = [f.name for f in fields(HistoryEntry)]
# The final statuses as an SQL list, from their one home (api.models), e.g. "(3, 4)".
FINAL_SQL = "(" + ", ".join(str(int(s)) for s in sorted(FINAL_STATUSES)) + ")"
_KNOWN = frozenset(COLUMNS)
# Room proven per planned job before a paid run: a job's row with its request is well under this.
ROW_ROOM_BYTES = 4096
# SQLite integers are 64-bit; anything a server sends beyond this is not a credit count or a time.
SQLITE_INT_MAX = 2**63 - 1


SQL_TYPES = {"int": "INTEGER", "float": "REAL", "str": "TEXT"}


def add_missing_columns(db: Any, table: str, record: type) -> list[str]:
    """A field added to HistoryEntry becomes a nullable column by itself: adding a history column is one
    line in one file. Renames, types changes and data moves still need a numbered migration."""
    have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}
    if all(f.name in have for f in fields(record)):
        return []
    added = []
    db.execute("BEGIN IMMEDIATE")  # one process at a time (on the shared ledger, one machine)
    try:
        have = {row[1] for row in db.execute(f"PRAGMA table_info({table})")}  # again, under the lock
        for f in fields(record):
            if f.name not in have:
                base = str(f.type).split("|")[0].strip()
                db.execute(f"ALTER TABLE {table} ADD COLUMN {f.name} {SQL_TYPES.get(base, 'TEXT')}")
                added.append(f.name)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return added


def _entry(row: sqlite3.Row) -> HistoryEntry:
    return next(_entries([row]))


def _entries(rows: Iterable[Any]) -> Iterator[HistoryEntry]:
    """The rows of one query (SELECT *) as entries. A newer akool may have added columns: the ones this
    version knows are found once, not once a row (listings of 100,000), and a row holding every field
    fills its entry at C speed (the dataclass's __init__ would only assign them one by one)."""
    names: list[str] = []
    places: list[int] = []
    whole = False
    for row in rows:
        if not names:
            keys = list(row.keys())
            places = [n for n, key in enumerate(keys) if key in _KNOWN]
            names = [keys[n] for n in places]
            whole = len(names) == len(_KNOWN)
        if not whole:  # an older file, some field missing: the constructor fills its default
            yield HistoryEntry(**{name: row[n] for name, n in zip(names, places)})
            continue
        entry = object.__new__(HistoryEntry)
        entry.__dict__.update(zip(names, [row[n] for n in places]))
        yield entry


def _fit(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and not -SQLITE_INT_MAX <= value <= SQLITE_INT_MAX:
        return None
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf")) or abs(value) > 1e15):
        return None
    return value


def entry_for_job(job: Job, *, kind: str, base_url: str, profile: str, now: float, source: str | None,
                  video_length: int | None, estimate: int | None, request: dict[str, Any] | None,
                  model: str | None = None, price_key: str | None = None,
                  estimate_high: int | None = None) -> HistoryEntry:
    created = job.create_time / 1000 if job.create_time else now
    return HistoryEntry(
        id=job.id, kind=kind, created_at=created, expires_at=expiry_of(created),
        base_url=base_url, profile=profile, updated_at=now, source=source, image_url=job.image_url,
        effect_name=job.effect_name or None, effect_code=job.effect_code or None, resolution=job.resolution,
        video_length=video_length, audio_type=job.audio_type, estimate=estimate,
        deducted=job.deduction_credit, status=job.status, video_url=job.video_url,
        pre_video_id=job.pre_video_id, request=json.dumps(request) if request is not None else None,
        model=model or _opt_model(job), price_key=price_key, estimate_high=estimate_high,
        failure_reason=job.failure_reason, cover_url=job.cover_url,
    )


def _opt_model(job: Job) -> str | None:
    value = job.raw.get("model_name")
    return value if isinstance(value, str) and value else None


def insert_statement(entry: HistoryEntry) -> tuple[str, list[Any]]:
    """The one INSERT of a job's row (also run inside the batch journal's own transactions)."""
    values = asdict(entry)
    names = ", ".join(COLUMNS)
    marks = ", ".join("?" for _ in COLUMNS)
    return f"INSERT OR REPLACE INTO jobs ({names}) VALUES ({marks})", [_fit(values[c]) for c in COLUMNS]


class HistoryError(ConfigError):
    """The history cannot be opened or written. Before a paid request this stops the command."""

    def __init__(self, path: "Path | str", exc: BaseException) -> None:
        text = str(exc) or type(exc).__name__
        if isinstance(path, str):  # the shared ledger (a URL, shown without its password)
            super().__init__(f"the ledger {path} cannot be used ({text})", reason="ledger-unusable")
        else:
            super().__init__(f"job history {path} cannot be used ({text})", history_advice(path, exc, text))
        self.path = path


def history_advice(path: Path, exc: BaseException, text: str) -> str:
    """Advice that fits the error: moving a file away is only for one that is damaged, never for a healthy
    one on a read-only mount or a full disk (it holds the ids of paid jobs)."""
    import errno
    import os

    lower = text.lower()
    if isinstance(exc, sqlite3.OperationalError) and ("locked" in lower or "busy" in lower):
        return "another akool process holds it; wait for it to finish and try again"
    if "full" in lower or getattr(exc, "errno", None) == errno.ENOSPC:
        return "the disk is full: free some space and try again"
    folder = path.parent
    writable = os.access(folder, os.W_OK) if folder.exists() else os.access(folder.parent, os.W_OK)
    if "readonly" in lower or "read-only" in lower or not writable or "unable to open" in lower:
        return (f"{folder} is not writable here (permissions, or a read-only mount): make it writable or point "
                "AKOOL_DATA_DIR at a writable folder; the file itself is fine, keep it")
    if "malformed" in lower or "not a database" in lower or "corrupt" in lower:
        return (f"the file is damaged: keep a copy and start a new history (mv {path} {path}.damaged); the copy "
                "still lists the ids of paid jobs (sqlite3 .recover can read them)")
    if "disk i/o" in lower or isinstance(exc, OSError):
        return "the disk answered an I/O error: check the drive (dmesg) and try again"
    return f"if the file is damaged, keep a copy and start a new history (mv {path} {path}.damaged)"


class History:
    """The store: this machine's SQLite file, or with `url` (ledger.url) a PostgreSQL database that every
    machine of a team shares (store.pg: the same SQL, the same migrations)."""

    def __init__(self, path: Path, clock: Callable[[], float] = time.time, shared: bool = False,
                 busy_timeout: float = 30.0, url: str | None = None) -> None:
        self.path = path
        self.url = url
        self.busy_timeout = busy_timeout
        self.clock = clock
        # shared: used from several threads, each call under the caller's lock.
        self.shared = shared
        self._db: Any = None
        self._local = threading.local()

    @property
    def where(self) -> "Path | str":
        """What messages name: the file, or the ledger's URL without its password."""
        if self.url:
            from akool_cli.store.pg import masked

            return masked(self.url)
        return self.path

    def _sqlite(self, check_same_thread: bool = True) -> sqlite3.Connection:
        # Autocommit mode plus a generous busy timeout: two akool processes writing at once
        # wait for each other instead of failing or losing a row.
        db = sqlite3.connect(self.path, timeout=self.busy_timeout, isolation_level=None,
                             check_same_thread=check_same_thread)
        db.execute(f"PRAGMA busy_timeout = {int(self.busy_timeout * 1000)}")
        return db

    def connect(self) -> Any:
        """A new connection to the same store (worker threads write through their own); the ledger's is
        migrated here, the SQLite file was by this History's first connection (_conn)."""
        if self.url:
            from akool_cli.store.pg import PgConnection

            try:
                pg: Any = PgConnection(self.url)
                migrate(pg)
                add_missing_columns(pg, "jobs", HistoryEntry)
            except sqlite3.DatabaseError as exc:
                raise HistoryError(str(self.where), exc) from None
            return pg
        return self._sqlite()

    def thread_connection(self) -> Any:
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self.connect()
        return db

    def _conn(self) -> Any:
        if self._db is None and self.url:
            self._db = self.connect()
        if self._db is None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                db = self._sqlite(check_same_thread=not self.shared)
                db.row_factory = sqlite3.Row
                self._wal(db)
                migrate(db)
                add_missing_columns(db, "jobs", HistoryEntry)
            except sqlite3.DatabaseError as exc:
                raise HistoryError(self.path, exc) from None
            except OSError as exc:
                raise HistoryError(self.path, exc) from None
            self._db = db
        return self._db

    def _wal(self, db: sqlite3.Connection) -> None:
        """Switch to WAL. Several processes creating a new file at once can get "database is locked"
        here, where the busy timeout does not apply: retry for as long as the busy timeout would."""
        deadline = time.monotonic() + self.busy_timeout
        while True:
            try:
                db.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) and "busy" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)

    def prove_writable(self) -> None:
        """Before a paid request: open, migrate and commit a real write, or raise naming the file.

        A history that cannot take the job's row (corrupt, read-only, locked, disk full) must stop
        the command before it spends, not after."""
        self._run("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_write_check', ?)", (str(self.clock()),))

    def prove_room(self, jobs: int) -> None:
        """Before a paid run: prove the file can grow by a realistic row for each planned job, and keep
        that room. The filler is written and committed, then deleted: SQLite keeps the freed pages in
        the file and reuses them for the jobs' rows, so a disk that fills up meanwhile cannot refuse
        a paid job's row (the check and the reservation are one step)."""
        if not self.url:  # a server's room is the server's to keep: the write check still proves the link
            size = max(1, jobs) * ROW_ROOM_BYTES
            self._run("INSERT OR REPLACE INTO room (id, filler) VALUES (1, zeroblob(?))", (size,))
            self._run("DELETE FROM room WHERE id = 1")
        self.prove_writable()

    # ------------------------------------------------------------ the account's requests in flight

    @contextlib.contextmanager
    def slot(self, account: str, ceiling: int, stopped: Callable[[], bool], grace: float = 60.0) -> Iterator[None]:
        """Hold one of the account's `ceiling` slots while a create is on the wire. On the shared ledger the
        slots are session locks of this thread's connection: every machine counts against one ceiling, and
        a machine that dies frees its slots with its connection (its rows stay `sending`: never resent).
        The SQLite store is one machine: its worker pool is the ceiling already."""
        if not self.url:
            yield
            return
        import hashlib

        from akool_cli.core.errors import Refused

        db = self.thread_connection()
        key = int(hashlib.sha256(account.encode()).hexdigest()[:7], 16)
        held = None
        while held is None:
            try:
                held = db.try_slot(key, ceiling, time.time(), grace)
            except sqlite3.DatabaseError as exc:
                raise HistoryError(self.where, exc) from None
            if held is None:
                if stopped():
                    raise Refused("stopped while waiting for the account's concurrency")
                time.sleep(0.02)
        try:
            yield
        finally:
            try:
                db.free_slot(key, held)
            except sqlite3.DatabaseError:
                pass  # the session's locks go with its connection

    # ------------------------------------------------------------ daily and monthly caps

    def window_spend(self, profile: str, since: float, now: float) -> int:
        """Credits spent by this profile since `since`: charged (or, unknown, estimated) jobs that did
        not fail, plus every live reservation of a request still on the wire."""
        jobs = self._run(
            "SELECT COALESCE(SUM(COALESCE(deducted, estimate_high, estimate, 0)), 0) FROM jobs "
            "WHERE profile = ? AND created_at >= ? AND COALESCE(status, 0) != 4", (profile, since)).fetchone()[0]
        held = self._run("SELECT COALESCE(SUM(credits), 0) FROM reservations WHERE profile = ? AND expires_at > ?",
                         (profile, now)).fetchone()[0]
        return int(jobs) + int(held)

    def reserve(self, profile: str, credits: int, fits: Callable[[Callable[[float], int]], bool], now: float,
                hold_seconds: float) -> int | None:
        """Hold `credits` for a request about to leave if `fits(spent_since)` says so, in one
        write transaction: two processes of one profile cannot both take the last room under a cap.
        Returns the reservation's id, or None when it does not fit."""
        try:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                if not fits(lambda since: self.window_spend(profile, since, now)):
                    db.execute("ROLLBACK")
                    return None
                cursor = db.execute("INSERT INTO reservations (profile, credits, created_at, expires_at) "
                                    "VALUES (?, ?, ?, ?)", (profile, int(credits), now, now + hold_seconds))
                db.execute("COMMIT")
                return int(cursor.lastrowid or 0)
            except BaseException:
                if db.in_transaction:
                    db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise HistoryError(self.where, exc) from None

    def release(self, reservation: int) -> None:
        self._run("DELETE FROM reservations WHERE id = ?", (reservation,))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _run(self, sql: str, params: Iterable[Any] = ()) -> Any:
        try:
            return self._conn().execute(sql, tuple(params))
        except sqlite3.DatabaseError as exc:
            raise HistoryError(self.where, exc) from None

    def add(self, entry: HistoryEntry) -> None:
        self._run(*insert_statement(entry))
        self._link_uploads(entry)

    # ------------------------------------------------------------ objects this tool put in a bucket

    def _link_uploads(self, entry: HistoryEntry) -> None:
        """Which uploaded objects this job's request used (their links carry the content hash). After the
        job's own row: a link that cannot be written never costs the record of a paid job."""
        import re

        hashes = sorted(set(re.findall(r"/([0-9a-f]{64})\.[a-z0-9]{2,4}\?", entry.request or "")))
        if not hashes:
            return
        marks = ",".join("?" * len(hashes))
        try:
            self._run(f"INSERT OR IGNORE INTO upload_uses (sha256, job_id) SELECT DISTINCT sha256, ? FROM uploads "
                      f"WHERE sha256 IN ({marks})", [entry.id, *hashes])
        except HistoryError:
            pass

    def record_upload(self, stored: "StoredObject") -> None:
        now = self.clock()
        self._run("INSERT INTO uploads (endpoint, bucket, key, sha256, size, kind, source, uploaded_at, last_used_at, "
                  "link_expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint, bucket, key) DO UPDATE "
                  "SET last_used_at = excluded.last_used_at, link_expires_at = CASE WHEN "
                  "COALESCE(uploads.link_expires_at, 0) > excluded.link_expires_at THEN uploads.link_expires_at "
                  "ELSE excluded.link_expires_at END, deleted_at = NULL",
                  (stored.endpoint, stored.bucket, stored.key, stored.sha256, stored.size, stored.kind, stored.source,
                   now, now, stored.link_expires_at))

    def uploads(self, *, bucket: str | None = None, endpoint: str | None = None, used_before: float | None = None,
                include_deleted: bool = False) -> list[dict[str, Any]]:
        sql = ("SELECT u.*, (SELECT GROUP_CONCAT(job_id, ' ') FROM upload_uses WHERE sha256 = u.sha256) AS job_ids "
               "FROM uploads u WHERE 1 = 1")
        params: list[Any] = []
        for clause, value in (("u.bucket = ?", bucket), ("u.endpoint = ?", endpoint), ("u.last_used_at < ?", used_before)):
            if value is not None:
                sql += f" AND {clause}"
                params.append(value)
        if not include_deleted:
            sql += " AND u.deleted_at IS NULL"
        rows = [dict(row) for row in self._run(sql + " ORDER BY u.last_used_at DESC", params).fetchall()]
        for row in rows:
            row["job_ids"] = (row["job_ids"] or "").split()
        return rows

    def mark_upload_deleted(self, endpoint: str, bucket: str, key: str) -> None:
        self._run("UPDATE uploads SET deleted_at = ? WHERE endpoint = ? AND bucket = ? AND key = ?",
                  (self.clock(), endpoint, bucket, key))

    def update_from_jobs(self, jobs: Iterable[Job]) -> None:
        now = self.clock()
        rows = [(_fit(job.status), _fit(job.status), job.video_url, _fit(job.deduction_credit), job.failure_reason,
                 job.cover_url, now, job.id) for job in jobs]
        if not rows:
            return
        # One transaction a tick, not one fsync a job. A final status is never taken back:
        # callbacks and polls can arrive late or out of order.
        self._many(f"UPDATE jobs SET status = CASE WHEN status IN {FINAL_SQL} AND COALESCE(?, 0) NOT IN {FINAL_SQL} "
                   "THEN status ELSE ? END, video_url = COALESCE(?, video_url), "
                   "deducted = COALESCE(?, deducted), failure_reason = COALESCE(?, failure_reason), "
                   "cover_url = COALESCE(?, cover_url), updated_at = ? "
                   "WHERE id = ?", rows)

    def _many(self, sql: str, rows: Iterable[tuple[Any, ...]]) -> None:
        """Many rows in one transaction: one commit (one fsync) instead of one a row."""
        try:
            db = self._conn()
            db.execute("BEGIN IMMEDIATE")
            try:
                db.executemany(sql, rows)
                db.execute("COMMIT")
            except BaseException:
                db.execute("ROLLBACK")
                raise
        except sqlite3.DatabaseError as exc:
            raise HistoryError(self.where, exc) from None

    def mark_downloaded(self, job_id: str, path: Path) -> None:
        self._run("UPDATE jobs SET local_path = ?, updated_at = ? WHERE id = ?",
                  (str(path), self.clock(), job_id))

    def mark_deleted(self, ids: Iterable[str]) -> None:
        now = self.clock()
        self._many("UPDATE jobs SET deleted = 1, updated_at = ? WHERE id = ?", [(now, job_id) for job_id in ids])

    def import_entries(self, rows: list[dict[str, Any]]) -> int:
        """Jobs another machine recorded (batch merge): new ones added whole; known ones brought up to date
        the way a poll would (a final status is never taken back). Returns how many were new."""
        have = self.get_many(r["id"] for r in rows)
        new = [HistoryEntry(**{k: v for k, v in r.items() if k in _KNOWN}) for r in rows if r["id"] not in have]
        if new:
            sql = insert_statement(new[0])[0]
            self._many(sql, [tuple(insert_statement(e)[1]) for e in new])
        known = [r for r in rows if r["id"] in have]
        if known:
            self.update_from_jobs([Job.from_api({"_id": r["id"], "status": r.get("status"),
                                                 "video_url": r.get("video_url"),
                                                 "deduction_credit": r.get("deducted")}) for r in known])
        return len(new)

    def ledger_facts(self) -> dict[str, Any]:
        """What `akool ledger status` shows: schema version, what the store holds, what is in flight."""
        now = self.clock()
        facts: dict[str, Any] = {
            "schema": int(self._run("PRAGMA user_version").fetchone()[0]),
            "jobs": int(self._run("SELECT COUNT(*) FROM jobs").fetchone()[0]),
            "runs": int(self._run("SELECT COUNT(*) FROM batch_runs").fetchone()[0]),
            "rows_sending": int(self._run("SELECT COUNT(*) FROM batch_rows WHERE state = 'sending'").fetchone()[0]),
            "credits_reserved": int(self._run("SELECT COALESCE(SUM(credits), 0) FROM reservations WHERE expires_at > ?",
                                              (now,)).fetchone()[0]),
        }
        if self.url:
            from akool_cli.store.pg import SLOT_LOCKS

            facts["requests_in_flight"] = int(self._run(
                "SELECT COUNT(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ? AND granted",
                (SLOT_LOCKS,)).fetchone()[0])
        return facts

    def get_many(self, ids: Iterable[str]) -> dict[str, HistoryEntry]:
        """Many entries in a few queries (500 ids each), not one query an id."""
        wanted = list(dict.fromkeys(ids))
        found: dict[str, HistoryEntry] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start:start + 500]
            rows = self._run(f"SELECT * FROM jobs WHERE id IN ({','.join('?' * len(chunk))})", chunk).fetchall()
            found.update((entry.id, entry) for entry in _entries(rows))
        return found

    def get(self, job_id: str) -> HistoryEntry | None:
        row = self._run("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _entry(row) if row else None

    def recent(self, limit: int | None = None, statuses: Iterable[int] | None = None,
               base_url: str | None = None, include_deleted: bool = True) -> list[HistoryEntry]:
        return list(self.iter_recent(limit, statuses, base_url, include_deleted))

    def iter_recent(self, limit: int | None = None, statuses: Iterable[int] | None = None,
                    base_url: str | None = None, include_deleted: bool = True) -> Iterator[HistoryEntry]:
        """Newest first, read from SQLite as it is consumed (constant memory)."""
        sql = "SELECT * FROM jobs WHERE 1 = 1"
        params: list[Any] = []
        wanted = list(statuses or [])
        if wanted:
            sql += f" AND status IN ({', '.join('?' for _ in wanted)}) AND deleted = 0"
            params += wanted
        if base_url:
            sql += " AND base_url = ?"
            params.append(base_url)
        if not include_deleted:
            sql += " AND deleted = 0"
        sql += " ORDER BY created_at DESC, rowid DESC"
        if limit:
            sql += " LIMIT ?"
            params.append(limit)
        cursor = self._run(sql, params)
        while True:
            rows = cursor.fetchmany(500)
            if not rows:
                return
            yield from _entries(rows)

    def prune_expired(self) -> int:
        removed = self._run("DELETE FROM jobs WHERE expires_at < ?", (self.clock(),)).rowcount
        if removed:
            self._run("VACUUM")  # give the space back: a pruned history should also be a smaller file
        return removed

    def observed_charges(self, price_key: str, base_url: str, limit: int = 3) -> list[int]:
        """What this account was charged, newest first, for jobs with the same price key and target."""
        rows = self._run("SELECT deducted FROM jobs WHERE price_key = ? AND base_url = ? AND deducted IS NOT NULL "
                         "AND COALESCE(status, 0) != 4 ORDER BY created_at DESC, rowid DESC LIMIT ?",
                         (price_key, base_url, limit)).fetchall()
        return [int(row[0]) for row in rows]

    def unfinished(self, base_url: str, now: float) -> list[str]:
        """Jobs of this base URL not known to be final yet (and not past their expiry): what a sync asks about."""
        sql = (f"SELECT id FROM jobs WHERE base_url = ? AND deleted = 0 AND expires_at > ? "
               f"AND (status IS NULL OR status NOT IN {FINAL_SQL}) ORDER BY created_at")
        return [row[0] for row in self._run(sql, (base_url, now)).fetchall()]

    def unsaved(self, base_url: str, now: float, within_hours: float | None = None) -> list[str]:
        """Completed, paid jobs with no saved file whose remote files have not expired yet."""
        sql = (f"SELECT id FROM jobs WHERE base_url = ? AND status = {int(JobStatus.COMPLETED)} AND local_path IS NULL "
               "AND deleted = 0 "
               "AND expires_at > ?")
        params: list[Any] = [base_url, now]
        if within_hours is not None:
            sql += " AND expires_at <= ?"
            params.append(now + within_hours * 3600)
        return [row[0] for row in self._run(sql + " ORDER BY expires_at", params).fetchall()]

    def spend_by_target(self) -> list[dict[str, Any]]:
        """Credits estimated and charged per profile and base URL (sandbox jobs are not your money)."""
        rows = self._run(
            "SELECT profile, base_url, COUNT(*) AS jobs, "
            "SUM(CASE WHEN deducted IS NOT NULL THEN estimate END) AS estimated, SUM(deducted) AS charged, "
            "COUNT(deducted) AS charged_jobs FROM jobs GROUP BY profile, base_url ORDER BY profile, base_url")
        return [dict(row) for row in rows.fetchall()]

