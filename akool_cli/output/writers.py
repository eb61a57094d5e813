"""One output layer: views turn domain objects into plain rows, writers print any view.

A view is the only place that knows a listing's column names and JSON field names. Writers know
nothing of jobs or effects: `table` (Rich on a terminal, plain aligned columns elsewhere), `json`,
`jsonl`, `csv`, `tsv` and `ids`. A new format is one writer (one entry in WRITERS); a new listing is
one view. Three kinds of view: a `list` (rows), a `record` (one object: a key/value table for people,
one JSON object, one CSV row) and `lines` (people read one line a row, e.g. a run id; machines get records).
"""

from __future__ import annotations

import functools
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
    kind: str = "list"  # "list", "record" or "lines"
    fields: list[str] | None = None  # CSV/TSV: the record keys written, raw values (default: the columns' rows)
    text_key: str | None = None  # lines: what people see of each row
    single: bool = False  # machines get one object (JSON), not an array of one
    selectable: list[str] | None = None  # what `--json FIELD,...` may pick, where records stream (default: fields)

    def machine(self) -> Iterable[dict[str, Any]]:
        return self.rows if self.records is None else self.records

    def known_fields(self) -> list[str]:
        """The names `--json FIELD,...` may pick: the documented ones, plus any key of records already in
        memory (an API object may carry more than we document). A lazy listing is not read for this."""
        names = list(self.selectable or self.fields or [])
        records = self.machine()
        if isinstance(records, list):
            for record in records:
                names.extend(key for key in record if key not in names)
        return names

    def select(self, names: list[str]) -> "View":
        """Only these fields of each record, in this order (a record without one says null), like gh's
        `--json a,b`. A name the listing does not have is a usage error that lists the ones it has."""
        from akool_cli.core.errors import UsageError

        known = self.known_fields()
        wrong = [name for name in names if name not in known]
        if wrong and known:
            raise UsageError(f"unknown field '{clean(wrong[0])}' for --json",
                             hint="use some of: " + ",".join(known))
        source = self.machine()
        records = (({name: record.get(name) for name in names}) for record in source)
        return View(self.columns, self.rows, list(records) if isinstance(source, list) else records,
                    id_key=self.id_key if self.id_key in names else "", title=self.title, empty=self.empty,
                    kind=self.kind, fields=list(names), text_key=self.text_key, single=self.single)

    def honours(self, fmt: str) -> bool:
        """`ids` needs an id field; every other format prints any view."""
        return fmt != "ids" or bool(self.id_key)


def record_view(record: dict[str, Any], *, labels: dict[str, str] | None = None, id_key: str = "",
                title: str | None = None, text: str | None = None) -> View:
    """One object: what `auth status`, `config path`, `cost` and `balance` print. People see a key/value
    table, or `text` (one sentence) where that says it better; machines get the object."""
    labels = labels or {}
    columns = [Column(key, labels.get(key, key.replace("_", " ").capitalize()), 0, whole=True) for key in record]
    rows = [{"line": text}] if text is not None else [record]
    return View(columns, rows, [record], id_key=id_key, title=title, kind="record" if text is None else "lines",
                fields=list(record), text_key="line", single=True)


def lines_view(lines: list[str], records: list[dict[str, Any]], *, id_key: str = "") -> View:
    """People read one line a record (a run id, `ID  PATH`); machines get the records."""
    columns = _line_columns(tuple(records[0]) if records else ())
    return View(list(columns), [{"line": line} for line in lines], records, id_key=id_key, kind="lines",
                fields=[c.key for c in columns], text_key="line")


@functools.lru_cache(maxsize=64)
def _line_columns(keys: tuple[str, ...]) -> tuple[Column, ...]:
    # Made once per set of keys: a listener prints a view a callback, all with the same keys.
    return tuple(Column(key, key, 0, whole=True) for key in keys)


def cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return clean(value)


def write(view: View, fmt: str, out: IO[str], *, tty: bool = False, width: int | None = None,
          plain: bool = True, ascii_only: bool = False, err: IO[str] | None = None) -> None:
    if fmt not in WRITERS:
        raise ValueError(f"no writer for format {fmt!r}")
    if not view.honours(fmt):
        raise ValueError(f"this output has no ids to print for format {fmt!r}")
    WRITERS[fmt](view, out, Shape(tty, width or 80, plain, ascii_only, err))
    out.flush()


@dataclass(frozen=True)
class Shape:
    """What the table writer needs to know about the terminal."""

    tty: bool
    width: int
    plain: bool
    ascii_only: bool
    err: IO[str] | None


def _json(view: View, out: IO[str], shape: Shape) -> None:
    if view.single:
        record = next(iter(view.machine()), {})
        out.write(clean_json(json.dumps(record, indent=2, ensure_ascii=False)) + "\n")
    else:
        _write_json(view.machine(), out, pretty=shape.tty)


def _jsonl(view: View, out: IO[str], shape: Shape) -> None:
    for record in view.machine():
        out.write(clean_json(json.dumps(record, ensure_ascii=False)) + "\n")


def _ids(view: View, out: IO[str], shape: Shape) -> None:
    for record in view.machine():
        value = record.get(view.id_key)
        for one in (value if isinstance(value, list) else [value]):
            if one:
                out.write(cell(one) + "\n")


def _table(view: View, out: IO[str], shape: Shape) -> None:
    if view.kind == "lines":
        for row in view.rows:
            value = row.get(view.text_key or "")
            out.write(("-" if value is None else clean(str(value), keep_newlines=True)) + "\n")
        return
    rows = list(view.rows)
    if not rows and view.empty and shape.err is not None:
        shape.err.write(view.empty + "\n")
        return
    if view.kind == "record":
        _key_values(view, rows[0] if rows else {}, out, shape)
    elif shape.tty:
        _rich_table(view, rows, out, shape.width, plain=shape.plain, ascii_only=shape.ascii_only)
    else:
        _plain_table(view, rows, out)


def _key_values(view: View, record: dict[str, Any], out: IO[str], shape: Shape) -> None:
    """One object for people: `Label  value` lines, aligned; nested values as compact JSON."""
    if view.title:
        out.write(clean(view.title) + "\n")
    width = max((len(c.title) for c in view.columns), default=0)
    for column in view.columns:
        value = record.get(column.key)
        text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else cell(value)
        out.write(f"{column.title.ljust(width)}  {clean(text)}".rstrip() + "\n")


def _write_json(records: Iterable[dict[str, Any]], out: IO[str], *, pretty: bool = True) -> None:
    """A JSON array written item by item: constant memory however long the listing. Indented for a
    person at a terminal; one record a line into a pipe (as gh does), which json's C encoder writes
    (indentation takes the pure-Python one: 100,000 history records went from 3.4 s to under 2)."""
    first = True
    out.write("[")
    for record in records:
        if pretty:
            text = clean_json(json.dumps(record, indent=2, ensure_ascii=False)).replace("\n", "\n  ")
        else:
            text = clean_json(json.dumps(record, ensure_ascii=False))
        out.write(("\n" if first else ",\n") + "  " + text)
        first = False
    out.write("]\n" if first else "\n]\n")


# A cell a spreadsheet would run as a formula (CSV injection) starts with one of these.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def raw_cell(value: Any, *, tsv: bool = False) -> str:
    """A value as a spreadsheet should get it: raw (ms, credits, true/false), nested values as JSON,
    and text that would run as a formula defused with a leading quote. TSV has no quoting: tabs and
    newlines inside a value become spaces."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    text = json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else str(value)
    if tsv and any(ch in text for ch in "\t\n\r"):
        text = " ".join(text.split())
    text = clean(text)
    return "'" + text if text.startswith(FORMULA_START) else text


def _delimited(delimiter: str) -> Callable[[View, IO[str], Shape], None]:
    def write_delimited(view: View, out: IO[str], shape: Shape) -> None:
        import csv
        import io

        keys = view.fields or [c.key for c in view.columns]
        source = view.machine() if view.fields else view.rows
        buffer = io.StringIO()
        writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
        for values in _lines_of(keys, source, tsv=delimiter == "\t"):
            buffer.seek(0)
            buffer.truncate()
            writer.writerow(values)
            out.write(buffer.getvalue())
    return write_delimited


def _lines_of(keys: list[str], source: Iterable[dict[str, Any]], *, tsv: bool) -> Iterator[list[str]]:
    yield list(keys)  # the header
    for record in source:
        yield [raw_cell(record.get(key), tsv=tsv) for key in keys]


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


WRITERS: dict[str, Callable[[View, IO[str], Shape], None]] = {
    "table": _table, "json": _json, "jsonl": _jsonl, "csv": _delimited(","), "tsv": _delimited("\t"), "ids": _ids,
}
FORMATS = tuple(WRITERS)
