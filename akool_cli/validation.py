"""Checks of user input that need no network."""

from __future__ import annotations

import re

from akool_cli.errors import UsageError

JOB_ID = re.compile(r"^[0-9a-fA-F]{24}$")


def check_ids(ids: list[str]) -> list[str]:
    """Job ids as the API makes them (24 hex characters); commas also separate."""
    out: list[str] = []
    for raw in ids:
        for part in raw.split(","):
            part = part.strip()
            if not part:
                continue
            if not JOB_ID.match(part):
                raise UsageError(f"'{part[:40]}' is not a job id",
                                 hint="job ids are 24 hex characters; list yours with: akool history")
            if part not in out:
                out.append(part)
    return out
