"""Ordered schema migrations for the job history (the ledger of money spent).

`PRAGMA user_version` says how many of MIGRATIONS a file has had. Each opening runs the
missing ones, in order, inside one write transaction, so two processes opening the same old
file cannot both migrate it. A migration is never edited once released: add a new one.
Files from before versioning (user_version 0 with a jobs table) are version 0 too: the first
migration only creates what is missing.
"""

from __future__ import annotations

import sqlite3
from typing import Any, Callable

Migration = Callable[[Any], None]  # an sqlite3 connection, or store.pg's

MIGRATIONS: list[Migration] = []


def migration(func: Migration) -> Migration:
    MIGRATIONS.append(func)
    return func


@migration
def m001_jobs(db: sqlite3.Connection) -> None:
    db.execute("""
        CREATE TABLE IF NOT EXISTS jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL,
            base_url TEXT NOT NULL,
            profile TEXT NOT NULL,
            source TEXT,
            image_url TEXT,
            effect_name TEXT,
            effect_code TEXT,
            resolution TEXT,
            video_length INTEGER,
            audio_type INTEGER,
            estimate INTEGER,
            deducted INTEGER,
            status INTEGER,
            video_url TEXT,
            local_path TEXT,
            pre_video_id TEXT,
            deleted INTEGER NOT NULL DEFAULT 0,
            updated_at REAL NOT NULL,
            request TEXT
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS jobs_created ON jobs (created_at)")


@migration
def m002_meta(db: sqlite3.Connection) -> None:
    # A small key/value table: the writability probe before a paid request writes here.
    db.execute("CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT)")
    db.execute("CREATE INDEX IF NOT EXISTS jobs_base_url ON jobs (base_url, created_at)")


@migration
def m003_model_and_price_key(db: sqlite3.Connection) -> None:
    # Jobs made through the batch endpoint name their model; every job records what its price
    # depends on, so the next estimate can use what this account was really charged.
    db.execute("ALTER TABLE jobs ADD COLUMN model TEXT")
    db.execute("ALTER TABLE jobs ADD COLUMN price_key TEXT")
    db.execute("CREATE INDEX IF NOT EXISTS jobs_price_key ON jobs (price_key, base_url, created_at)")


@migration
def m004_batch_journal(db: sqlite3.Connection) -> None:
    # `akool batch`: each run and each of its rows, with the state that makes a run resumable
    # without paying twice (pending -> sending -> submitted -> completed/failed -> saved; uncertain).
    db.execute("""
        CREATE TABLE IF NOT EXISTS batch_runs (
            id TEXT PRIMARY KEY,
            created_at REAL NOT NULL,
            manifest TEXT,
            profile TEXT NOT NULL,
            base_url TEXT NOT NULL,
            settings TEXT
        )""")
    db.execute("""
        CREATE TABLE IF NOT EXISTS batch_rows (
            run_id TEXT NOT NULL,
            row INTEGER NOT NULL,
            key TEXT NOT NULL,
            state TEXT NOT NULL,
            endpoint TEXT NOT NULL,
            body_hash TEXT NOT NULL,
            request TEXT NOT NULL,
            source TEXT,
            output TEXT,
            estimate INTEGER,
            price_key TEXT,
            job_ids TEXT NOT NULL DEFAULT '[]',
            paths TEXT NOT NULL DEFAULT '[]',
            error TEXT,
            updated_at REAL NOT NULL,
            PRIMARY KEY (run_id, row)
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS batch_rows_state ON batch_rows (run_id, state)")


@migration
def m005_spend_caps(db: sqlite3.Connection) -> None:
    # Prices are ranges: each job and journal row keeps the high figure it was admitted under, and
    # the credits held for requests on the wire (daily/monthly caps shared by every process of a
    # profile) live in `reservations` until their jobs are recorded.
    db.execute("ALTER TABLE jobs ADD COLUMN estimate_high INTEGER")
    db.execute("ALTER TABLE batch_rows ADD COLUMN estimate_high INTEGER")
    db.execute("""
        CREATE TABLE IF NOT EXISTS reservations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            profile TEXT NOT NULL,
            credits INTEGER NOT NULL,
            created_at REAL NOT NULL,
            expires_at REAL NOT NULL
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS jobs_profile_created ON jobs (profile, created_at)")
    db.execute("CREATE TABLE IF NOT EXISTS room (id INTEGER PRIMARY KEY, filler BLOB)")


@migration
def m006_uploads(db: sqlite3.Connection) -> None:
    # Objects this tool put in the user's bucket (upload.backend = s3), and which job used which:
    # `uploads list` shows them, `uploads prune` deletes only these, never anything else in the bucket.
    db.execute("""
        CREATE TABLE IF NOT EXISTS uploads (
            endpoint TEXT NOT NULL,
            bucket TEXT NOT NULL,
            key TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            size INTEGER NOT NULL,
            kind TEXT,
            source TEXT,
            uploaded_at REAL NOT NULL,
            last_used_at REAL NOT NULL,
            link_expires_at REAL,
            deleted_at REAL,
            PRIMARY KEY (endpoint, bucket, key)
        )""")
    db.execute("CREATE INDEX IF NOT EXISTS uploads_sha ON uploads (sha256)")
    db.execute("CREATE TABLE IF NOT EXISTS upload_uses (sha256 TEXT NOT NULL, job_id TEXT NOT NULL, "
               "PRIMARY KEY (sha256, job_id))")


@migration
def m007_slot_leases(db: Any) -> None:
    # The shared ledger's concurrency slots: who took each and whether it was given back. A slot whose
    # holder died without giving it back may still have a request on the wire: it waits out the request
    # deadline before anyone reuses it (on one machine's SQLite store the table stays empty).
    db.execute("""
        CREATE TABLE IF NOT EXISTS slot_leases (
            account INTEGER NOT NULL,
            slot INTEGER NOT NULL,
            released INTEGER NOT NULL DEFAULT 1,
            taken_at REAL NOT NULL,
            PRIMARY KEY (account, slot)
        )""")


def current_version() -> int:
    return len(MIGRATIONS)


def migrate(db: Any, migrations: list[Migration] | None = None) -> int:
    """Bring `db` (in autocommit mode) up to date; returns the version it ends at."""
    steps = MIGRATIONS if migrations is None else migrations
    if db.execute("PRAGMA user_version").fetchone()[0] >= len(steps):
        return len(steps)
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]  # again, under the write lock
        for number, step in enumerate(steps[version:], start=version + 1):
            step(db)
            db.execute(f"PRAGMA user_version = {int(number)}")
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    return max(version, len(steps))
