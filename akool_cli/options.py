"""Option types shared by several commands, so each choice list exists once."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

# The output formats every listing takes (the writers live in akool_cli.output.writers).
FORMATS = ("table", "json", "jsonl", "csv", "tsv", "ids")


def resolve_format(fmt: str | None, json_flag: bool) -> str:
    from akool_cli.core.errors import UsageError
    from akool_cli.core.text import clean

    if json_flag and fmt not in (None, "json"):
        raise UsageError(f"--json and --format {fmt} cannot be used together", hint="--json is --format json")
    chosen = "json" if json_flag else (fmt or "table")
    if chosen not in FORMATS:
        raise UsageError(f"unknown format '{clean(chosen)}'", hint="use one of " + ", ".join(FORMATS))
    return chosen


def _complete_format(incomplete: str) -> list[str]:
    return [f for f in FORMATS if f.startswith(incomplete)]


FormatOption = Annotated[Optional[str], typer.Option(
    "--format", metavar="FORMAT", autocompletion=_complete_format,
    help="Output format: table, json, jsonl, csv, tsv or ids (default: table).")]
JsonOption = Annotated[bool, typer.Option("--json", help="The same as --format json.")]
