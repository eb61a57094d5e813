"""Output names: `-o` templates such as `out/{stem}-{index}.mp4`, made safe, never overwriting.

Placeholders: {stem} (the source file's name), {row}, {key}, {effect}, {model}, {resolution},
{length}, {index} (the variant, from 1), {id} (the job id), {date} (YYYY-MM-DD). Every value is
made into a safe file-name part (no separators, no control characters, no leading dot or dash).
Collisions never overwrite: a name already taken (on disk or earlier in the same command) gets
"-2", "-3"... before its extension.
"""

from __future__ import annotations

import re
import string
from pathlib import Path
from typing import Any

from akool_cli.core.errors import UsageError

FIELDS = ("stem", "row", "key", "effect", "model", "resolution", "length", "index", "id", "date")


def is_template(text: str) -> bool:
    return "{" in text


def check_template(text: str) -> str:
    try:
        names = [name for _, name, _, _ in string.Formatter().parse(text) if name is not None]
    except ValueError as exc:
        raise UsageError(f"-o template '{text}' is malformed ({exc})", hint="e.g. -o 'out/{stem}-{index}.mp4'") from None
    unknown = [n for n in names if n not in FIELDS]
    if unknown:
        raise UsageError(f"-o template uses unknown field(s) {', '.join('{' + n + '}' for n in unknown)}",
                         hint="fields: " + ", ".join("{" + f + "}" for f in FIELDS))
    return text


def safe_part(value: Any) -> str:
    """A template field as a file name part: spaces become '-' ("Sakura Bloom" -> Sakura-Bloom), anything
    else outside [A-Za-z0-9._-] becomes '_', never a leading dot or dash, at most 80 characters."""
    text = re.sub(r"\s+", "-", str(value if value is not None else "").strip())
    text = re.sub(r"[^A-Za-z0-9._-]", "_", text)[:80]
    return text.lstrip(".-") or "_"


def render(template: str, fields: dict[str, Any]) -> Path:
    values = {name: safe_part(fields.get(name)) for name in FIELDS}
    path = Path(template.format_map(values))
    return path if path.suffix else path.with_suffix(".mp4")


class NameClaims:
    """Names given out in one command, so two videos never get the same file."""

    def __init__(self) -> None:
        self.taken: set[Path] = set()

    def claim(self, path: Path) -> Path:
        candidate, number = path, 1
        while candidate in self.taken or candidate.exists() or candidate.is_symlink():
            number += 1
            candidate = path.with_name(f"{path.stem}-{number}{path.suffix}")
        self.taken.add(candidate)
        return candidate


def source_stem(source: str | None) -> str:
    """`cat` for `https://x/cat.png?v=2` or `photos/cat.png`: the {stem} of a template."""
    from pathlib import PurePath

    return (PurePath(source.split("?")[0].rstrip("/")).stem if source else "") or "video"


def template_values(job_id: str, *, source: str | None, row: int, key: str | None, index: int,
                    request: dict[str, Any], effect_name: str | None = None) -> dict[str, Any]:
    """Every field an -o template may use, for one job: the one filler of create, add-audio and batch."""
    import time

    stem = source_stem(source)
    return {"id": job_id, "stem": stem, "row": row, "key": key or stem, "index": index,
            "date": time.strftime("%Y-%m-%d"), "effect": effect_name or request.get("effect_code"),
            "model": request.get("model_name"), "resolution": request.get("resolution"),
            "length": request.get("video_length")}


def place(template: str, values: dict[str, Any], *, force: bool, claims: NameClaims) -> Path:
    """The template filled in, its folder made; a taken name gets a suffix unless --force."""
    path = render(template, values)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path if force else claims.claim(path)


def output_root(cli_output: str | None) -> Path:
    """The folder a run's outputs must stay under: the fixed part of the command line's -o (a folder,
    or a template's folder), else the working folder."""
    if not cli_output:
        return Path.cwd().resolve()
    fixed = cli_output.split("{", 1)[0]
    if "{" in cli_output:
        base = Path(fixed) if fixed.endswith(("/", "\\")) or not fixed else Path(fixed).parent
    elif cli_output.endswith(("/", "\\")) or Path(cli_output).is_dir() or not Path(cli_output).suffix:
        base = Path(cli_output)
    else:
        base = Path(cli_output).parent
    return (Path.cwd() / base.expanduser()).resolve()


def within(path: Path, root: Path) -> bool:
    resolved = (Path.cwd() / path).resolve()
    return resolved == root or root in resolved.parents


def confine(cell: str, root: Path) -> str:
    """A manifest's `output` cell, refused unless everything it can name stays under `root`: no `..`, no
    absolute path or `~` elsewhere, no special file. Checked before anything is sent."""
    from pathlib import PurePath

    if "\x00" in cell:
        raise UsageError("output has a NUL character", hint="fix the cell")
    if ".." in PurePath(cell.replace("\\", "/")).parts:
        raise UsageError(f"output '{cell}' climbs out of its folder with '..'",
                         hint="name a path under the run's -o folder (or pass --output-anywhere)")
    fixed = Path(cell.split("{", 1)[0] or ".").expanduser()
    if not within(fixed if fixed.parts else Path("."), root):
        raise UsageError(f"output '{cell}' is outside {root}",
                         hint="name a path under the run's -o folder (or pass --output-anywhere)")
    return cell
