"""akool gallery: a page of a run's or the history's videos to look at, keep or reject."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, JsonOption

gallery_app = typer.Typer()

STATUS_CHOICES = ("queueing", "processing", "completed", "failed")


@gallery_app.command("gallery")
@guarded
def gallery_command(
    ctx: typer.Context,
    run_id: Annotated[Optional[str], typer.Argument(metavar="[RUN]", help="A batch run id (akool batch list).")] = None,
    history: Annotated[bool, typer.Option("--history", help="The local history's jobs instead of a run's.")] = False,
    from_file: Annotated[Optional[str], typer.Option("--from-file", metavar="FILE", help="These jobs (ids one a line, a JSON list or marks.json's keep list; - reads stdin).")] = None,
    limit: Annotated[int, typer.Option("--limit", metavar="N", min=1, max=5000, help="With --history: the N most recent jobs.")] = 200,
    status: Annotated[Optional[str], typer.Option("--status", metavar="STATUS", help="With --history: only jobs with this status (queueing, processing, completed, failed).")] = None,
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE", help="Where to write the page (paths in it are relative to it).")] = "gallery.html",
    contact_sheet: Annotated[Optional[str], typer.Option("--contact-sheet", metavar="PNG", help="Also write a grid of the posters as a PNG (the preview extra).")] = None,
    serve: Annotated[bool, typer.Option("--serve", help="Open the page on a loopback server where Keep and Reject download and delete.")] = False,
    no_open: Annotated[bool, typer.Option("--no-open", help="With --serve: print the address, do not open a browser.")] = False,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """A self-contained HTML page of videos: posters, filters, keep/reject marks and the commands for them."""
    from akool_cli.core.errors import UsageError
    from akool_cli.options import NO_IDS, resolve_format

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS, default="")
    if sum((run_id is not None, history, from_file is not None)) != 1:
        raise UsageError("give a run id, --history or --from-file",
                         hint="e.g. akool gallery RUN, or akool gallery --history")
    if status is not None and status not in STATUS_CHOICES:
        raise UsageError(f"unknown status '{status}'", hint="use one of " + ", ".join(STATUS_CHOICES))
    page = Path(output).expanduser()
    if page.suffix.lower() not in (".html", ".htm"):
        raise UsageError(f"'{output}' does not end in .html", hint="e.g. -o gallery.html")
    ids = None
    if from_file is not None:
        from akool_cli.core.validation import read_ids_file

        ids = read_ids_file(from_file, mark="keep", stdin=state.runtime.stdin)
    cards = _cards(state, run_id, limit, status, page, ids)
    if serve:
        from akool_cli.gallery_server import serve_gallery

        state.limit_time(None)  # a server for as long as the user wants; each request has its own bounds
        serve_gallery(state, cards, title=_title(run_id), open_browser=not no_open, folder=page.parent.resolve())
        return
    record = _write(state, cards, page, _title(run_id), contact_sheet)
    from akool_cli.output.writers import record_view

    state.renderer.info(f"wrote {page} ({len(cards)} card(s)); open it in a browser")
    if form:
        state.renderer.show(record_view(record), form)


def _title(run_id: str | None) -> str:
    return f"akool run {run_id}" if run_id else "akool history"


def _cards(state: App, run_id: str | None, limit: int, status: str | None, page: Path,
           ids: list[str] | None = None) -> list:
    from akool_cli.api.models import status_from_name
    from akool_cli.flows.gallery import entries_for, frame_poster, make_cards, preview_available
    from akool_cli.store.journal import Journal

    history = state.history()
    journal = Journal(history, state.runtime.clock) if run_id else None
    keys: dict[str, str] = {}
    if ids is not None:
        entries = [e for e in map(history.get, ids) if e is not None]
    else:
        entries, keys = entries_for(history, run_id=run_id, journal=journal, limit=limit,
                                    statuses=[status_from_name(status)] if status else None)
    maker = frame_poster if preview_available() else None
    cards = make_cards(entries, page, keys=keys, poster_maker=maker)
    if maker is None and any(c.video_saved and c.poster_kind != "cover" for c in cards):
        from akool_cli.core.install import add_package_hint
        from akool_cli.flows.gallery import PILLOW_SPEC, PREVIEW_SPEC

        state.renderer.info("note: saved videos show their source image; for a frame of the video as poster, "
                            f"install the preview extra: {add_package_hint(PREVIEW_SPEC + ' ' + PILLOW_SPEC)}")
    return cards


def _write(state: App, cards: list, page: Path, title: str, contact_sheet: str | None) -> dict:
    import os
    import tempfile

    from akool_cli.core.errors import AkoolError
    from akool_cli.flows.gallery import contact_sheet as make_sheet
    from akool_cli.flows.gallery import summary
    from akool_cli.output.gallery_html import render_gallery

    now = state.runtime.clock()
    facts = summary(cards, now)
    text = render_gallery(cards, facts, now=now, title=title)
    try:
        page.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{page.name}.", dir=page.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)
        os.replace(tmp, page)
    except OSError as error:
        raise AkoolError(f"could not write {page}: {error.strerror or error}",
                         hint="choose a folder you can write: -o DIR/gallery.html") from None
    record = {"path": str(page), "cards": len(cards), **facts,
              "posters": {kind: sum(1 for c in cards if c.poster_kind == kind)
                          for kind in ("cover", "frame", "source", "none")}}
    if contact_sheet:
        sheet = Path(contact_sheet).expanduser()
        record["contact_sheet"] = str(sheet)
        record["contact_sheet_tiles"] = make_sheet(cards, sheet)
        state.renderer.info(f"wrote {sheet} ({record['contact_sheet_tiles']} poster(s))")
    return record
