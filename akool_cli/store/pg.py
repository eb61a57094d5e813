"""The shared ledger on PostgreSQL: the same store (history, journals, reservations, migrations) as the
embedded SQLite file, through a connection that speaks the few SQLite forms the store uses.

psycopg 3 (the `postgres` extra) is the driver. The store's SQL is written once, in the portable subset
plus a handful of SQLite forms translated here: `?` placeholders, INSERT OR REPLACE / OR IGNORE,
GROUP_CONCAT, json_each / json_extract, the migration PRAGMAs and BEGIN IMMEDIATE, which becomes a
transaction under one advisory lock: one writer at a time across every machine, exactly SQLite's rule,
so every check-then-write of the store (budget reservations, row claims) holds for a whole team.
Database errors surface as sqlite3.DatabaseError subclasses, so the store's error handling is one.
"""

from __future__ import annotations

import re
import sqlite3
from typing import Any, Iterable, Iterator, Sequence
from urllib.parse import urlsplit, urlunsplit

POSTGRES_SPEC = "psycopg[binary]>=3.1"
WRITER_LOCK = 7_345_001  # pg_advisory_xact_lock key: the ledger's one writer at a time
SLOT_LOCKS = 7_345_002  # pg_try_advisory_lock(SLOT_LOCKS, n): the account's requests in flight
PRIMARY_KEYS = {"jobs": "id", "meta": "key", "room": "id", "batch_runs": "id", "batch_rows": "run_id, row",
                "uploads": "endpoint, bucket, key", "upload_uses": "sha256, job_id"}


class PgError(sqlite3.DatabaseError):
    """A PostgreSQL error, as the store's code expects database errors to be."""


def masked(url: str) -> str:
    """The ledger URL as it may be printed: never a password."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "postgresql://(unreadable URL)"
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:****@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


# ---------------------------------------------------------------- SQL: the SQLite forms the store uses


def _ddl(sql: str) -> str:
    sql = re.sub(r"INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY", sql)
    sql = re.sub(r"\bREAL\b", "DOUBLE PRECISION", sql)
    sql = re.sub(r"\bINTEGER\b", "BIGINT", sql)
    return re.sub(r"\bBLOB\b", "BYTEA", sql)


def _upsert(sql: str) -> str:
    match = re.match(r"\s*INSERT OR REPLACE INTO (\w+) \(([^)]*)\)(.*)$", sql, re.S)
    if not match:
        return sql
    table, columns, rest = match.groups()
    keys = PRIMARY_KEYS[table]
    names = [c.strip() for c in columns.split(",")]
    key_names = {k.strip() for k in keys.split(",")}
    updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in names if c not in key_names)
    action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
    return f"INSERT INTO {table} ({columns}){rest} ON CONFLICT ({keys}) {action}"


def translate(sql: str) -> str:
    text = sql.strip()
    if text.startswith("CREATE") or text.startswith("ALTER"):
        text = _ddl(text)
    if text.startswith("INSERT OR REPLACE"):
        text = _upsert(text)
    elif text.startswith("INSERT OR IGNORE"):
        text = text.replace("INSERT OR IGNORE", "INSERT", 1) + " ON CONFLICT DO NOTHING"
    text = text.replace("GROUP_CONCAT(", "string_agg(").replace("rowid DESC", "id DESC")  # a tiebreak only
    text = re.sub(r"json_each\(([\w.]+)\)( AS)? (\w+)", r"jsonb_array_elements_text(\1::jsonb) AS \3(value)", text)
    text = re.sub(r"json_extract\(([\w.]+), '\$\.(\w+)'\)", r"((\1::jsonb)->>'\2')::bigint", text)
    if text.startswith("INSERT INTO reservations"):
        text += " RETURNING id"
    return text.replace("%", "%%").replace("?", "%s")


# ---------------------------------------------------------------- rows and cursors like sqlite3's


class Row(Sequence[Any]):
    """By name and by position, with keys(): what the store reads of sqlite3.Row."""

    __slots__ = ("_names", "_values")

    def __init__(self, names: list[str], values: Sequence[Any]) -> None:
        # SUM() of integers is NUMERIC in PostgreSQL: back to the int (or float) SQLite would give.
        self._names = names
        self._values = tuple(_plain(v) for v in values)

    def __getitem__(self, key: Any) -> Any:  # type: ignore[override]
        if isinstance(key, str):
            return self._values[self._names.index(key)]
        return self._values[key]

    def __len__(self) -> int:
        return len(self._values)

    def keys(self) -> list[str]:
        return list(self._names)


def _plain(value: Any) -> Any:
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def _row_factory(cursor: Any) -> Any:
    names = [c.name for c in (cursor.description or [])]
    return lambda values: Row(names, values)


class Cursor:
    def __init__(self, cursor: Any, lastrowid: int | None = None, rows: list[Row] | None = None) -> None:
        self._cursor = cursor
        self.lastrowid = lastrowid
        self._rows = rows

    @property
    def rowcount(self) -> int:
        return int(self._cursor.rowcount) if self._cursor is not None else 0

    def fetchone(self) -> Any:
        if self._rows is not None:
            return self._rows.pop(0) if self._rows else None
        return self._cursor.fetchone() if self._cursor is not None and self._cursor.description else None

    def fetchmany(self, size: int) -> list[Any]:
        if self._rows is not None:
            rows, self._rows = self._rows[:size], self._rows[size:]
            return rows
        return list(self._cursor.fetchmany(size)) if self._cursor is not None and self._cursor.description else []

    def fetchall(self) -> list[Any]:
        if self._rows is not None:
            rows, self._rows = self._rows, []
            return rows
        return list(self._cursor.fetchall()) if self._cursor is not None and self._cursor.description else []

    def __iter__(self) -> Iterator[Any]:
        return iter(self.fetchall())


class PgConnection:
    """What the store uses of sqlite3.Connection, over psycopg (autocommit; explicit BEGIN/COMMIT)."""

    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            from akool_cli.core.errors import UsageError
            from akool_cli.core.install import add_package_hint

            raise UsageError("ledger.url is a PostgreSQL URL but psycopg (the postgres extra) is not installed",
                             hint=f"install it: {add_package_hint(POSTGRES_SPEC)}") from None
        self._psycopg = psycopg
        try:
            self._conn = psycopg.connect(url, autocommit=True, row_factory=_row_factory, connect_timeout=10)
        except psycopg.Error as exc:
            raise PgError(_first_line(exc)) from None
        self.url = url

    @property
    def in_transaction(self) -> bool:
        return bool(self._conn.info.transaction_status != self._psycopg.pq.TransactionStatus.IDLE)

    def execute(self, sql: str, params: Iterable[Any] = ()) -> Cursor:
        special = self._pragma(sql.strip())
        if special is not None:
            return special
        try:
            if sql.strip() == "BEGIN IMMEDIATE":
                self._conn.execute("BEGIN")
                self._conn.execute(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")
                return Cursor(None)
            cursor = self._conn.execute(translate(sql), tuple(params))
        except self._psycopg.Error as exc:
            raise PgError(_first_line(exc)) from None
        if sql.strip().startswith("INSERT INTO reservations"):
            row = cursor.fetchone()
            return Cursor(cursor, lastrowid=int(row[0]) if row else None, rows=[])
        return Cursor(cursor)

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Cursor:
        try:
            with self._conn.cursor() as cursor:
                cursor.executemany(translate(sql), (tuple(r) for r in rows))
            return Cursor(None)
        except self._psycopg.Error as exc:
            raise PgError(_first_line(exc)) from None

    def close(self) -> None:
        self._conn.close()

    # ------------------------------------------------------------ the PRAGMAs the store runs

    def _pragma(self, sql: str) -> Cursor | None:
        if not sql.upper().startswith("PRAGMA"):
            return None
        body = sql[6:].strip()
        if body.startswith("user_version"):
            self._schema_table()
            if "=" in body:
                version = int(body.split("=", 1)[1])
                self._conn.execute("DELETE FROM akool_schema")
                self._conn.execute("INSERT INTO akool_schema (version) VALUES (%s)", (version,))
                return Cursor(None, rows=[])
            found = self._conn.execute("SELECT version FROM akool_schema").fetchone()
            return Cursor(None, rows=[Row(["user_version"], [int(found[0]) if found else 0])])
        match = re.match(r"table_info\((\w+)\)", body)
        if match:
            names = self._conn.execute("SELECT column_name FROM information_schema.columns WHERE table_name = %s "
                                       "ORDER BY ordinal_position", (match.group(1),)).fetchall()
            return Cursor(None, rows=[Row(["cid", "name"], [n, r[0]]) for n, r in enumerate(names)])
        return Cursor(None, rows=[])  # journal_mode, busy_timeout: SQLite's own, nothing to do here

    def _schema_table(self) -> None:
        """Made once, whichever machine comes first: others wait on the writer lock, then find it there."""
        found = self._conn.execute("SELECT to_regclass('akool_schema')").fetchone()
        if found is not None and found[0] is not None:
            return
        with self._conn.transaction():
            self._conn.execute(f"SELECT pg_advisory_xact_lock({WRITER_LOCK})")
            self._conn.execute("CREATE TABLE IF NOT EXISTS akool_schema (version BIGINT NOT NULL)")

    # ------------------------------------------------------------ the account's requests in flight

    def try_slot(self, account: int, ceiling: int, now: float, grace: float) -> int | None:
        """Take one of `ceiling` slots of an account: a session lock of this connection, so a process that
        dies frees it with its connection. A slot freed that way (its lease never given back) may still
        have the dead process's request on the wire: it is skipped until `grace` (the request deadline)
        has passed since it was taken. Returns the slot, or None when none is free."""
        for slot in range(ceiling):
            got = self._conn.execute("SELECT pg_try_advisory_lock(%s, %s)", (SLOT_LOCKS, account % 2 ** 31 + slot))
            row = got.fetchone()
            if not (row and row[0]):
                continue
            lease = self._conn.execute("SELECT released, taken_at FROM slot_leases WHERE account = %s AND slot = %s",
                                       (account, slot)).fetchone()
            if lease is not None and not lease[0] and now - float(lease[1]) < grace:
                self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", (SLOT_LOCKS, account % 2 ** 31 + slot))
                continue  # its last holder died mid-request: wait out the deadline
            self._conn.execute("INSERT INTO slot_leases (account, slot, released, taken_at) VALUES (%s, %s, 0, %s) "
                               "ON CONFLICT (account, slot) DO UPDATE SET released = 0, taken_at = EXCLUDED.taken_at",
                               (account, slot, now))
            return slot
        return None

    def free_slot(self, account: int, slot: int) -> None:
        self._conn.execute("UPDATE slot_leases SET released = 1 WHERE account = %s AND slot = %s", (account, slot))
        self._conn.execute("SELECT pg_advisory_unlock(%s, %s)", (SLOT_LOCKS, account % 2 ** 31 + slot))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:300] if text else type(exc).__name__
