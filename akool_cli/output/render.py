"""Everything people and scripts see: tables and panels on stdout, progress and errors on stderr."""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from functools import cached_property
from typing import IO, TYPE_CHECKING, Any, Callable, Iterator, Mapping

from akool_cli.core.text import clean, clean_json

if TYPE_CHECKING:
    from rich.console import Console

    from akool_cli.api.models import Job
    from akool_cli.core.errors import AkoolError
    from akool_cli.output.writers import View
    from akool_cli.pricing.prices import Estimate

# Rich costs ~30 ms to import: commands that print only JSON or plain lines never load it.

def is_plain(is_tty: bool, env: Mapping[str, str]) -> bool:
    return bool(env.get("NO_COLOR")) or not is_tty or env.get("TERM") == "dumb"


def make_console(file: IO[str], is_tty: bool, env: Mapping[str, str]) -> "Console":
    from rich.console import Console

    plain = is_plain(is_tty, env)
    return Console(
        file=file,
        force_terminal=is_tty,
        # No colour system at all means no escape codes, not even bold.
        color_system=None if plain else "auto",
        no_color=plain,
        width=None if is_tty else 160,
        highlight=False,
        # Data is printed as it is: a file called "[b]x.mp4" must not turn into bold "x.mp4".
        markup=False,
        soft_wrap=not is_tty,
        emoji=False,
    )


def _add_row(table: Any, *cells: Any) -> None:
    """Every table cell may hold server data: control characters become visible escapes."""
    table.add_row(*(clean(cell) if isinstance(cell, str) else cell for cell in cells))


def json_text(payload: Any, indent: int | None = 2) -> str:
    # json escapes C0 controls itself; C1 controls and bidi overrides pass through ensure_ascii=False.
    return clean_json(json.dumps(payload, indent=indent, ensure_ascii=False, sort_keys=False))


class Renderer:
    def __init__(self, out_file: IO[str], err_file: IO[str], *, out_tty: bool, err_tty: bool,
                 env: Mapping[str, str], clock: Callable[[], float] = time.time) -> None:
        self.out_file = out_file
        self.err_file = err_file
        self.out_tty = out_tty
        self.err_tty = err_tty
        self.env = env
        self.clock = clock
        self.json_errors = False
        self.fields: list[str] | None = None  # `--json FIELD,...`: what machines get of each record

    @cached_property
    def err(self) -> "Console":
        return make_console(self.err_file, self.err_tty, self.env)

    # ------------------------------------------------------------ stderr

    def _err_line(self, text: str, style: str) -> None:
        text = clean(text)  # one line, whatever a server put in a message
        if is_plain(self.err_tty, self.env):
            self.err_file.write(text + "\n")
            self.err_file.flush()
            return
        from rich.text import Text

        self.err.print(Text(text, style=style), soft_wrap=True)

    def error(self, error: "AkoolError") -> None:
        from akool_cli.output.errors import error_text

        text = error_text(error.message, error.hint, int(error.exit_code), as_json=self.json_errors,
                          kind=type(error).__name__)
        if self.json_errors:
            self.err_file.write(text + "\n")
            self.err_file.flush()
            return
        self._err_line(text, "bold red")

    def warn(self, message: str) -> None:
        self._err_line(f"warning: {message}", "yellow")

    def info(self, message: str) -> None:
        self._err_line(message, "")

    # ------------------------------------------------------------ stdout

    def line(self, text: str) -> None:
        self.out_file.write(clean(text, keep_newlines=True) + "\n")
        self.out_file.flush()

    @cached_property
    def ascii_only(self) -> bool:
        """True on a stream that cannot take box drawing (cp1252 consoles, LANG=C pipes)."""
        encoding = (getattr(self.out_file, "encoding", None) or "utf-8").lower().replace("-", "")
        return encoding not in ("utf8", "utf16", "utf32")

    def show(self, view: "View", fmt: str) -> None:
        """Print a view in the chosen format (the output layer's writers)."""
        import shutil

        from akool_cli.core.errors import UsageError
        from akool_cli.output.writers import write

        if not view.honours(fmt):
            raise UsageError(f"this command cannot print --format {fmt}", hint="use another --format")
        if self.fields and fmt != "table":
            view = view.select(self.fields)
        width = None
        if self.out_tty:
            columns = self.env.get("COLUMNS", "")
            width = int(columns) if columns.isdigit() else shutil.get_terminal_size().columns
        write(view, fmt, self.out_file, tty=self.out_tty, width=width, plain=self.out_plain,
              ascii_only=self.ascii_only, err=self.err_file)

    @cached_property
    def out_plain(self) -> bool:
        """No colour on stdout (asked once: a listener prints thousands of times)."""
        return is_plain(self.out_tty, self.env)

    def estimate_panel(self, rows: list[tuple[str, str]], estimate: "Estimate", title: str) -> None:
        from rich.panel import Panel
        from rich.table import Table
        from rich.text import Text

        grid = Table.grid(padding=(0, 2))
        grid.add_column(style="bold")
        grid.add_column(overflow="fold")
        for key, value in rows:
            _add_row(grid, key, value)
        _add_row(grid, "", "")
        cost = f"{estimate.total} credits"
        if estimate.count > 1:
            cost += f" ({estimate.per_item} x {estimate.count})"
        _add_row(grid, "Estimated cost", Text(cost, style="bold yellow"))
        # The panel is about money about to be spent, so it goes to stderr with the prompt.
        self.err.print(Panel(grid, title=title, title_align="left", expand=False))

    # ------------------------------------------------------------ progress

    @contextmanager
    def polling(self, label: str) -> Iterator[Callable[["dict[str, Job]", float], None]]:
        """A spinner on a terminal; elsewhere one stderr line each time a status changes."""
        seen: dict[str, str] = {}
        if self.err_tty:
            with self.err.status(label) as status:
                from akool_cli.output.views import human_duration

                def update(jobs: dict[str, Job], elapsed: float) -> None:
                    status.update(f"{label} {summarise(jobs)} [{human_duration(elapsed)}]")
                yield update
            return

        from akool_cli.output.views import human_duration

        last = [""]

        def log(jobs: dict[str, Job], elapsed: float) -> None:
            if len(jobs) > PER_JOB_LINES:  # a CI log of 10,000 jobs gets a line when the counts move
                counts = summarise(jobs)
                if counts != last[0]:
                    last[0] = counts
                    self.info(f"{label} {counts} ({human_duration(elapsed)})")
                return
            for job in jobs.values():
                if seen.get(job.id) != job.status_name:
                    seen[job.id] = job.status_name
                    self.info(f"{job.id}: {job.status_name} ({human_duration(elapsed)})")
        yield log

    @contextmanager
    def transfer(self, label: str) -> Iterator[tuple[Callable[[int | None], None], Callable[[int], None]]]:
        """A progress bar on a terminal; elsewhere nothing until the caller reports the result."""
        if not self.err_tty:
            yield (lambda total: None), (lambda size: None)
            return
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress(TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
                      TimeRemainingColumn(), console=self.err, transient=True) as progress:
            task = progress.add_task(label, total=None)
            yield (lambda total: progress.update(task, total=total)), (lambda size: progress.advance(task, size))


PER_JOB_LINES = 20  # off a terminal, waits over more jobs than this say counts, not one line a job


def summarise(jobs: dict[str, Job]) -> str:
    counts: dict[str, int] = {}
    for job in jobs.values():
        counts[job.status_name] = counts.get(job.status_name, 0) + 1
    return ", ".join(f"{n} {name}" for name, n in sorted(counts.items())) or "waiting"


