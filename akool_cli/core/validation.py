"""Checks of user input that need no network."""

from __future__ import annotations

import math
from pathlib import Path

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


def is_job_id(value: object) -> bool:
    """Akool's ids are 24 hex characters. Anything else, typed or sent by a server, is refused
    before it becomes a file name, SQL or a command line."""
    import re

    return isinstance(value, str) and re.fullmatch(JOB_ID_PATTERN, value) is not None
