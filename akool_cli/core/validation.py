"""Checks of user input that need no network."""

from __future__ import annotations

import math
from pathlib import Path
from typing import IO

from akool_cli.core.errors import UsageError
from akool_cli.core.text import safe_repr


def check_ids(ids: list[str]) -> list[str]:
    """Job ids as the API makes them (24 hex characters); commas also separate."""
    out: dict[str, None] = {}  # ordered and linear: de-duplicating 100,000 ids stays instant
    for raw in ids:
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            if not is_job_id(part):
                raise UsageError(f"{safe_repr(part[:40])} is not a job id",
                                 hint="job ids are 24 hex characters; list yours with: akool history")
            out[part] = None
    return list(out)


def local_path(text: str) -> Path:
    """A path as typed, with ~ expanded where it names a real home directory. A NUL cannot be in a
    file name on any system we run on: refused here, as a usage error, not a crash in the OS call."""
    if "\x00" in text:
        raise UsageError(f"the path {safe_repr(text)} contains a NUL character", hint="give a plain file path")
    path = Path(text)
    try:
        return path.expanduser()
    except RuntimeError:  # "~nosuchuser": no home to expand to, so it is taken literally
        return path


def check_timeout(seconds: float | None) -> float | None:
    """--timeout must be a real number of seconds: 'nan' or 'inf' would mean waiting forever."""
    if seconds is not None and not math.isfinite(seconds):
        raise UsageError(f"--timeout {seconds} is not a number of seconds", hint="e.g. --timeout 600")
    return seconds


JOB_ID_PATTERN = r"[0-9a-fA-F]{24}"


_HEX = frozenset("0123456789abcdefABCDEF")


def is_job_id(value: object) -> bool:
    """Akool's ids are 24 hex characters (JOB_ID_PATTERN). Anything else, typed or sent by a server, is
    refused before it becomes a file name, SQL or a command line. A set test, not a regex: a status tick
    checks every id it polls."""
    return isinstance(value, str) and len(value) == 24 and _HEX.issuperset(value)


MAX_IDS_FILE = 16 * 1024 * 1024  # 600,000 ids a line each: far beyond any account's jobs


def read_ids_file(text: str, *, mark: str | None = None, stdin: "IO[str] | None" = None) -> list[str]:
    """Ids from a file (or `-`, stdin): one a line (blank lines and `#` comments skipped), a JSON list of
    ids, or a gallery's marks file `{"keep": [...], "reject": [...]}`, of which `mark` is taken."""
    import json

    if text == "-":
        if stdin is None:
            raise UsageError("no standard input to read ids from", hint="pass a file name instead of -")
        body = stdin.read(MAX_IDS_FILE + 1)
    else:
        path = local_path(text)
        try:
            with path.open(encoding="utf-8", errors="replace") as handle:
                body = handle.read(MAX_IDS_FILE + 1)
        except OSError as exc:
            raise UsageError(f"cannot read ids from '{text}': {exc.strerror or exc}", hint="check the path") from None
    if len(body) > MAX_IDS_FILE:
        raise UsageError(f"'{text}' is over {MAX_IDS_FILE // 1048576} MiB", hint="split it into smaller files")
    stripped = body.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            data = json.loads(body)
        except ValueError:
            raise UsageError(f"'{text}' is not valid JSON", hint="a list of ids, or a gallery's marks.json") from None
        if isinstance(data, dict):
            if mark is None or not isinstance(data.get(mark, []), list):
                raise UsageError(f"'{text}' has no '{mark}' list", hint="a gallery's marks.json has keep and reject")
            data = data.get(mark, [])
        if not isinstance(data, list) or not all(isinstance(i, str) for i in data):
            raise UsageError(f"'{text}' is not a list of job ids", hint="e.g. [\"<id>\", \"<id>\"]")
        return check_ids(data)
    lines = [line.split("#", 1)[0].strip() for line in body.splitlines()]
    return check_ids([line for line in lines if line])
