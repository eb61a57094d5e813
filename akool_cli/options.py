"""Option types shared by several commands, so each choice list exists once."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from akool_cli.output import FORMATS


class Resolution(str, Enum):
    p720 = "720p"
    p1080 = "1080p"
    k4 = "4k"


class Length(str, Enum):
    five = "5"
    ten = "10"


def _complete_format(incomplete: str) -> list[str]:
    return [f for f in FORMATS if f.startswith(incomplete)]


FormatOption = Annotated[Optional[str], typer.Option(
    "--format", metavar="FORMAT", autocompletion=_complete_format,
    help="Output format: table, json, jsonl, csv, tsv or ids (default: table).")]
JsonOption = Annotated[bool, typer.Option("--json", help="The same as --format json.")]
