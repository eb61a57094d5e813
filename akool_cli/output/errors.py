"""The error view: one line on stderr (`error: what; how to fix`), or one JSON object when the command was
asked for JSON. The one place that decides which, for usage errors (before a command runs) and for every
error a command raises."""

from __future__ import annotations

import re
from typing import Any

from akool_cli.core.text import clean

JSON_FORMATS = ("json", "jsonl")


def wants_json(fmt: str | None, json_flag: bool) -> bool:
    """--json, or --format json|jsonl: errors are JSON too."""
    return bool(json_flag) or fmt in JSON_FORMATS


def wants_json_argv(argv: list[str]) -> bool:
    """The same decision from a command line Click could not parse."""
    fmt = None
    for n, word in enumerate(argv):
        if word.startswith("--format="):
            fmt = word.split("=", 1)[1]
        elif word == "--format" and n + 1 < len(argv):
            fmt = argv[n + 1]
    return wants_json(fmt, "--json" in argv)


def error_text(message: str, hint: str | None, exit_code: int, *, as_json: bool, kind: str = "UsageError") -> str:
    if as_json:
        from akool_cli.output.render import json_text

        payload: dict[str, Any] = {"message": message, "hint": hint, "exit_code": int(exit_code), "kind": kind,
                                   "job_ids": sorted(set(re.findall(r"\b[0-9a-f]{24}\b", f"{message} {hint or ''}")))}
        return json_text({"error": payload}, indent=None)
    return clean(f"error: {message}" + (f"; {hint}" if hint else ""))
