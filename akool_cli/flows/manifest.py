"""Batch manifests: CSV or JSONL, one row = one create, columns = the create options' long names.

Every problem of every row is collected (row and column named) before anything is sent.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from dataclasses import dataclass, field
from typing import IO, Any, Iterable, Iterator

from akool_cli.core.errors import UsageError
from akool_cli.core.text import clean

COLUMNS = ("image", "effect", "prompt", "negative_prompt", "resolution", "length", "audio", "ai_audio", "model",
           "count", "last_frame", "generate_audio", "webhook", "output", "key")
BOOLS = {"ai_audio", "generate_audio"}
INTS = {"length", "count"}
MAX_ROWS = 1_000_000
MAX_LINE = 1024 * 1024


class ManifestError(UsageError):
    """Every problem found in a manifest, each with its row and column; nothing was sent."""

    def __init__(self, problems: list[str]) -> None:
        shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
        super().__init__(f"the manifest has {len(problems)} problem(s): {shown}",
                         hint="fix them and run again; nothing was sent")
        self.problems = problems


@dataclass
class ManifestRow:
    row: int  # 1-based, the header not counted
    values: dict[str, Any] = field(default_factory=dict)
    key: str = ""


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "y", "on"):
        return True
    if text in ("", "0", "false", "no", "n", "off"):
        return False
    raise ValueError("expected true or false")


def _int(value: Any) -> int:
    if isinstance(value, bool):
        raise ValueError("expected a whole number")
    number = int(str(value).strip())
    if not 0 < number <= 100_000:
        raise ValueError("expected a whole number above 0")
    return number


def _typed(row: int, raw: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for column, value in raw.items():
        if column not in COLUMNS:
            problems.append(f"row {row}: unknown column '{clean(column)}'")
            continue
        if value is None or (isinstance(value, str) and value.strip() == ""):
            continue  # an empty cell takes the command line's default
        try:
            if column in BOOLS:
                values[column] = _bool(value)
            elif column in INTS:
                values[column] = _int(value)
            elif isinstance(value, (dict, list)):
                raise ValueError("expected text")
            else:
                text = str(value)
                if "\x00" in text or len(text) > 8192:
                    raise ValueError("not usable text")
                values[column] = text
        except (TypeError, ValueError) as exc:
            problems.append(f"row {row}, column {column}: {clean(str(value))[:40]!r} ({exc})")
            values["_invalid"] = True
    return values


class _TooLong(str):
    """A physical line cut at MAX_LINE characters (the rest was read and dropped, never held)."""


def _bounded_lines(stream: IO[str]) -> Iterator[str]:
    """The stream's lines, none held longer than MAX_LINE: a 100 MB cell costs 1 MiB of memory, not 100 MB."""
    while True:
        line = stream.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) > MAX_LINE and not line.endswith("\n"):
            while True:  # drop the rest of this line in bounded pieces
                rest = stream.readline(MAX_LINE)
                if not rest or rest.endswith("\n"):
                    break
            yield _TooLong(line[:80])
            continue
        yield line


def _csv_lines(stream: IO[str]) -> Iterator[str]:
    for number, line in enumerate(_bounded_lines(stream), start=1):
        if isinstance(line, _TooLong):
            raise ManifestError([f"line {number}: longer than {MAX_LINE} bytes"])
        yield line


def _csv_rows(stream: IO[str], problems: list[str]) -> Iterator[ManifestRow]:
    reader = csv.DictReader(_csv_lines(stream))
    unknown = [c for c in (reader.fieldnames or []) if c not in COLUMNS]
    if unknown:
        raise ManifestError([f"header: unknown column '{clean(c)}' (known: {', '.join(COLUMNS)})" for c in unknown])
    if "image" not in (reader.fieldnames or []):
        raise ManifestError(["header: no 'image' column"])
    number = 0
    try:
        for number, raw in enumerate(reader, start=1):
            if None in raw:
                problems.append(f"row {number}: more cells than columns")
                raw.pop(None)
            if number > MAX_ROWS:
                raise ManifestError([f"more than {MAX_ROWS} rows"])
            yield ManifestRow(number, _typed(number, raw, problems))
    except csv.Error as exc:
        problems.append(f"row {number + 1}: {exc}")


def _jsonl_rows(stream: IO[str], problems: list[str]) -> Iterator[ManifestRow]:
    for number, line in enumerate(_bounded_lines(stream), start=1):
        if isinstance(line, _TooLong):
            problems.append(f"row {number}: longer than {MAX_LINE} bytes")
            continue
        if not line.strip():
            continue
        try:
            raw = json.loads(line)
        except (ValueError, RecursionError):
            raw = None
        if not isinstance(raw, dict):
            problems.append(f"row {number}: not a JSON object")
            continue
        if number > MAX_ROWS:
            raise ManifestError([f"more than {MAX_ROWS} rows"])
        yield ManifestRow(number, _typed(number, raw, problems))


def _keyed(rows: Iterable[ManifestRow], problems: list[str]) -> Iterator[ManifestRow]:
    """Each row's identity: its `key` cell, else its number and a hash of its content; repeats are problems.
    Streamed: only the keys seen so far are held (a million rows cost their keys, not their cells)."""
    keys: dict[str, int] = {}
    for row in rows:
        if "image" not in row.values:
            problems.append(f"row {row.row}, column image: empty")
            row.values["_invalid"] = True
        content = json.dumps({k: v for k, v in row.values.items() if k != "key"}, sort_keys=True)
        row.key = str(row.values.get("key") or f"{row.row}-{hashlib.sha256(content.encode()).hexdigest()[:8]}")
        if row.key in keys:
            problems.append(f"row {row.row}, column key: '{clean(row.key)}' repeats row {keys[row.key]}")
        keys[row.key] = row.row
        yield row


def iter_manifest(stream: IO[str], fmt: str, problems: list[str]) -> Iterator[ManifestRow]:
    """The rows one at a time, keyed; problems are appended as they are found. A decode error ends it."""
    try:
        yield from _keyed(_csv_rows(stream, problems) if fmt == "csv" else _jsonl_rows(stream, problems), problems)
    except UnicodeDecodeError as exc:
        raise ManifestError([f"the manifest is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} near byte "
                             f"{exc.start} of a read; save it as UTF-8, e.g. iconv -f latin1 -t utf-8)"]) from None


def open_manifest(path: str, fmt: str | None, stdin: IO[str]) -> tuple[IO[str], str]:
    if path == "-":
        if fmt not in ("csv", "jsonl"):
            raise UsageError("reading a manifest from stdin needs --format csv or --format jsonl",
                             hint="e.g. cat rows.csv | akool batch run - --format csv")
        return stdin, fmt
    chosen = fmt or ("jsonl" if path.endswith((".jsonl", ".ndjson")) else "csv" if path.endswith(".csv") else None)
    if chosen is None:
        raise UsageError(f"cannot tell the format of '{clean(path)}'", hint="name it .csv or .jsonl, or pass --format")
    try:
        return io.open(path, newline="", encoding="utf-8-sig"), chosen
    except OSError as exc:
        raise UsageError(f"cannot read the manifest '{clean(path)}': {exc.strerror}", hint="check the path") from None


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """A deterministic share of the rows: N runners each take theirs, without talking to each other."""
    if shard is None:
        return True
    k, n = shard
    return int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % n == k - 1


def parse_shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    try:
        k, n = (int(part) for part in text.split("/"))
    except ValueError:
        raise UsageError(f"--shard '{clean(text)}' is not K/N", hint="e.g. --shard 2/4 (the second of four)") from None
    if not 1 <= k <= n <= 1000:
        raise UsageError(f"--shard {k}/{n}: K must be 1 to N", hint="e.g. --shard 1/4 ... --shard 4/4")
    return k, n
