"""Option types shared by several commands, so each choice list exists once."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated, Optional

import typer

from akool_cli.output.writers import FORMATS  # one writer each: a new format is one entry there

NO_IDS = tuple(f for f in FORMATS if f != "ids")  # what a command whose output has no ids honours


def resolve_format(fmt: str | None, json_flag: bool, *, honoured: tuple[str, ...] = FORMATS,
                   default: str = "table") -> str:
    """--format (with --json as its alias), checked before anything is sent: a format the command's
    view cannot honour is a usage error, not an empty or half-printed answer. `default=""`: a command
    that tells people in stderr lines returns "" when no format was asked for."""
    from akool_cli.core.errors import UsageError
    from akool_cli.core.text import clean

    if json_flag and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} cannot be used together", hint="--json is --format json")
    chosen = "json" if json_flag else (fmt or default)
    if not chosen:
        return ""
    if chosen not in FORMATS:
        raise UsageError(f"unknown format '{clean(chosen)}'", hint="use one of " + ", ".join(FORMATS))
    if chosen not in honoured:
        raise UsageError(f"this command cannot print --format {chosen}", hint="use one of " + ", ".join(honoured))
    return chosen


def _complete_format(incomplete: str) -> list[str]:
    return [f for f in FORMATS if f.startswith(incomplete)]


FormatOption = Annotated[Optional[str], typer.Option(
    "--format", metavar="FORMAT", autocompletion=_complete_format,
    help=f"Output format: {', '.join(FORMATS)} (default: table, or what the command says).")]
JsonOption = Annotated[bool, typer.Option("--json", help="The same as --format json.")]
ListingJsonOption = Annotated[bool, typer.Option(
    "--json", metavar="[FIELD,...]",
    help="The same as --format json; --json FIELD,... keeps only those fields (a wrong name lists them).")]


# ---------------------------------------------------------------- --json FIELD,... (gh's field selection)

# The commands whose output is a listing: `--json a,b` keeps those fields of each record.
LISTINGS = ("history", "status", "effects", "models", "sync", "batch list", "batch status", "batch report",
            "uploads list")
_GROUPS = ("batch", "uploads")  # commands whose listing is a subcommand
_ROOT_VALUED = ("--profile", "-p")  # root options that take a value
_FIELD_LIST = r"[A-Za-z_][A-Za-z0-9_]*(,[A-Za-z_][A-Za-z0-9_]*)*,?"

# The field list taken off the command line for this invocation; the App hands it to the renderer.
SELECTED_FIELDS: "ContextVar[list[str] | None]" = ContextVar("akool_selected_fields", default=None)


def command_path(argv: list[str]) -> tuple[str, int]:
    """`batch report` and the index of the first word after it, skipping the root options."""
    n = 0
    while n < len(argv) and argv[n].startswith("-"):
        n += 2 if argv[n] in _ROOT_VALUED else 1
    words = argv[n:n + 1]
    n += len(words)
    if words and words[0] in _GROUPS and n < len(argv) and not argv[n].startswith("-"):
        words.append(argv[n])
        n += 1
    return " ".join(words), n


def take_fields(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """Turn `--json FIELDS` (or `--json=FIELDS`) into `--json` plus a field list. A bare `--json` keeps
    every field. With a space, the next word is a field list only on a listing, only when it looks like
    one (words and commas) and only when it is not a job id: `akool status --json ID` still means the id."""
    import re

    from akool_cli.core.errors import UsageError
    from akool_cli.core.validation import is_job_id

    path, start = command_path(argv)
    out, fields = list(argv[:start]), None
    n = start
    while n < len(argv):
        word = argv[n]
        if word == "--":
            out.extend(argv[n:])
            break
        value = None
        if word.startswith("--json="):
            value = word.split("=", 1)[1]
            if path not in LISTINGS:
                raise UsageError(f"akool {path or ''} has no fields to choose from".replace("  ", " "),
                                 hint="use --json alone; --json FIELD,... works on " + ", ".join(LISTINGS))
        elif word == "--json" and path in LISTINGS and n + 1 < len(argv):
            following = argv[n + 1]
            if re.fullmatch(_FIELD_LIST, following) and not is_job_id(following):
                value, n = following, n + 1
        if value is not None:
            fields = [name for name in value.split(",") if name]
            if not fields:
                raise UsageError("--json= names no field", hint="use --json alone for every field, or --json a,b")
            out.append("--json")
        else:
            out.append(word)
        n += 1
    return out, fields
