"""One output layer: views turn domain objects into plain rows, writers print any view.

A view is the only place that knows a listing's column names and JSON field names. Writers know
nothing of jobs or effects: `table` (Rich on a terminal, plain aligned columns elsewhere), `json`,
`jsonl`, `csv`, `tsv` and `ids`. A new format is one writer; a new listing is one view.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import IO, Any, Callable, Iterable, Iterator

from akool_cli.core.text import clean, clean_json


@dataclass(frozen=True)
class Column:
    key: str
    title: str
    # Lower is more important: on a narrow terminal the highest numbers are dropped first.
    priority: int = 1
    # Ids and paths are never cut: their column is dropped whole or shown whole.
    whole: bool = False
    style: Callable[[Any], str] | None = None


@dataclass
class View:
    """Rows for people (cells by column key) and records for machines (the JSON vocabulary)."""

    columns: list[Column]
    rows: Iterable[dict[str, Any]]
    records: Iterable[dict[str, Any]] | None = None  # default: the rows themselves
    id_key: str = "_id"
    title: str | None = None
    empty: str | None = None  # said on stderr (people only) when there is nothing to list
    extra: dict[str, Any] = field(default_factory=dict)

    def machine(self) -> Iterable[dict[str, Any]]:
        return self.rows if self.records is None else self.records


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return clean(value)


def write(view: View, fmt: str, out: IO[str], *, tty: bool = False, width: int | None = None,
          plain: bool = True, ascii_only: bool = False, err: IO[str] | None = None) -> None:
    if fmt == "json":
        _write_json(view.machine(), out)
    elif fmt == "jsonl":
        for record in view.machine():
            out.write(clean_json(json.dumps(record, ensure_ascii=False)) + "\n")
    elif fmt in ("csv", "tsv"):
        _write_delimited(view, out, "," if fmt == "csv" else "\t")
    elif fmt == "ids":
        for record in view.machine():
            if record.get(view.id_key):
                out.write(cell(record[view.id_key]) + "\n")
    else:
        rows = list(view.rows)
        if not rows and view.empty and err is not None:
            err.write(view.empty + "\n")
            return
        if tty:
            _rich_table(view, rows, out, width or 80, plain=plain, ascii_only=ascii_only)
        else:
            _plain_table(view, rows, out)
    out.flush()


def _write_json(records: Iterable[dict[str, Any]], out: IO[str]) -> None:
    """A JSON array written item by item: constant memory however long the listing."""
    first = True
    out.write("[")
    for record in records:
        text = clean_json(json.dumps(record, indent=2, ensure_ascii=False))
        out.write(("\n" if first else ",\n") + "  " + text.replace("\n", "\n  "))
        first = False
    out.write("]\n" if first else "\n]\n")


def _write_delimited(view: View, out: IO[str], delimiter: str) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow([c.key for c in view.columns])
    out.write(buffer.getvalue())
    for row in view.rows:
        buffer.seek(0)
        buffer.truncate()
        values = ["" if row.get(c.key) is None else str(row.get(c.key)) for c in view.columns]
        if delimiter == "\t":  # TSV has no quoting: tabs and newlines inside a value become spaces
            values = [" ".join(v.split()) if ("\t" in v or "\n" in v) else v for v in values]
        writer.writerow([clean(v) for v in values])
        out.write(buffer.getvalue())


def _widths(columns: list[Column], rows: list[dict[str, Any]]) -> dict[str, int]:
    return {c.key: max([len(c.title)] + [len(cell(r.get(c.key))) for r in rows]) for c in columns}


def fit_columns(columns: list[Column], rows: list[dict[str, Any]], width: int, gap: int = 3) -> list[Column]:
    """Drop the least important columns until the table fits; whole columns stay whole."""
    kept = list(columns)
    widths = _widths(columns, rows)
    while len(kept) > 1 and sum(widths[c.key] + gap for c in kept) + 1 > width:
        victim = max(kept, key=lambda c: (c.priority, kept.index(c)))
        if victim.priority == 0:
            break
        kept.remove(victim)
    return kept


def _plain_table(view: View, rows: list[dict[str, Any]], out: IO[str]) -> None:
    """For pipes: aligned columns, full values, no box drawing, nothing cut."""
    widths = _widths(view.columns, rows)
    last = view.columns[-1].key if view.columns else ""
    for values in [{c.key: c.title for c in view.columns}] + [{c.key: cell(r.get(c.key)) for c in view.columns}
                                                                      for r in rows]:
        line = "  ".join(values[c.key] if c.key == last else values[c.key].ljust(widths[c.key]) for c in view.columns)
        out.write(line.rstrip() + "\n")


def _rich_table(view: View, rows: list[dict[str, Any]], out: IO[str], width: int, *, plain: bool,
                ascii_only: bool) -> None:
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    columns = fit_columns(view.columns, rows, width)
    table = Table(title=view.title, title_justify="left", box=box.ASCII if ascii_only else box.HEAVY_HEAD)
    for column in columns:
        table.add_column(column.title, no_wrap=not column.whole, overflow="fold")
    for row in rows:
        cells = []
        for column in columns:
            text = cell(row.get(column.key))
            style = column.style(row.get(column.key)) if column.style and not plain else ""
            cells.append(Text(text, style=style or ""))
        table.add_row(*cells)
    console = Console(file=out, force_terminal=True, width=width, color_system=None if plain else "auto",
                      no_color=plain, highlight=False, markup=False, emoji=False)
    console.print(table)


def iter_records(items: Iterable[Any], to_record: Callable[[Any], dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for item in items:
        yield to_record(item)
