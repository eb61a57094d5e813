"""Option types shared by several commands, so each choice list exists once."""

from __future__ import annotations

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
