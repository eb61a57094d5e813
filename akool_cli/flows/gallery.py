"""A gallery's cards: one per job of a run or of the history, with the video, a poster and the source
image as the page will reference them (paths relative to the page, or http(s) URLs only).

Posters: the service's `cover_url` when it sent one; else a frame of the saved video (the `preview`
extra: PyAV decodes it, with its own ffmpeg; Pillow writes the PNG), kept beside the video; else the
source image. Nothing here prints or sends a request.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable
from urllib.parse import quote

from akool_cli.core.errors import UsageError

if TYPE_CHECKING:
    from akool_cli.store.history import History, HistoryEntry
    from akool_cli.store.journal import Journal

PREVIEW_SPEC = "av>=12"
PILLOW_SPEC = "pillow>=10"
MAX_CARDS = 5000  # a page a browser can still open; --limit chooses which


@dataclass
class Card:
    id: str
    status: str
    label: str | None  # effect name or model
    prompt: str | None
    resolution: str | None
    length: int | None
    estimate_low: int | None
    estimate_high: int | None
    charged: int | None
    created_at: float
    expires_at: float
    source: str | None  # the image as the user gave it (a file name or a URL)
    failure_reason: str | None = None
    key: str | None = None  # the manifest row's key (runs)
    video: str | None = None  # what <video src> gets: a relative path or an http(s) URL
    video_saved: bool = False
    poster: str | None = None
    poster_kind: str = "none"  # "cover", "frame", "source" or "none"
    image: str | None = None  # the source image for the page
    files: dict[str, Path] = field(default_factory=dict)  # local files the page uses, by role (for --serve)


def web_url(value: str | None) -> str | None:
    """Only http(s) URLs without spaces or controls reach a src attribute: never javascript: or data:."""
    if not value or len(value) > 4096 or not value.lower().startswith(("https://", "http://")):
        return None
    if any(ch.isspace() or ord(ch) < 32 or ch in "\"'<>\\`" for ch in value):
        return None
    return value


def relative(path: Path, page_dir: Path) -> str:
    """A file as the page references it: relative to the page, each part percent-quoted (a name such as
    `javascript:x.png` stays a file name), starting with ./ so no name reads as a scheme."""
    rel = os.path.relpath(path.resolve(), page_dir.resolve())
    return "./" + "/".join(quote(part, safe="") for part in Path(rel).parts)


def entries_for(history: "History", *, run_id: str | None, journal: "Journal | None", limit: int | None,
                statuses: Iterable[int] | None) -> tuple[list["HistoryEntry"], dict[str, str]]:
    """The jobs of a run (in row order, with each row's key) or the most recent of the history."""
    if run_id is None:
        return history.recent(min(limit or 200, MAX_CARDS), statuses), {}
    assert journal is not None
    if journal.run(run_id) is None:
        raise UsageError(f"no batch run '{run_id}' on this machine", hint="list them with: akool batch list")
    keys = {job_id: row.key for row in journal.rows(run_id) for job_id in row.job_ids}
    found = history.get_many(keys)  # a few queries for the whole run, not one a job
    entries = [found[job_id] for job_id in keys if job_id in found]
    return entries[:MAX_CARDS], {job_id: keys[job_id] for job_id in found}


def make_cards(entries: list["HistoryEntry"], page: Path, *, keys: dict[str, str] | None = None,
               poster_maker: "Callable[[Path], Path | None] | None" = None) -> list[Card]:
    page_dir = page.parent
    cards = []
    for entry in entries:
        card = Card(entry.id, entry.status_name, entry.effect_name or entry.model, _prompt(entry), entry.resolution,
                    entry.video_length, entry.estimate, entry.estimate_high, entry.deducted, entry.created_at,
                    entry.expires_at, entry.source, entry.failure_reason, (keys or {}).get(entry.id))
        _video(card, entry, page_dir)
        _image(card, entry, page_dir)
        _poster(card, entry, page_dir, poster_maker)
        cards.append(card)
    return cards


def _prompt(entry: "HistoryEntry") -> str | None:
    import json

    try:
        request = json.loads(entry.request) if entry.request else {}
    except ValueError:
        return None
    value = request.get("prompt") if isinstance(request, dict) else None
    return value if isinstance(value, str) else None


def _local(text: str | None) -> Path | None:
    if not text or "\x00" in text or "://" in text:
        return None
    path = Path(text).expanduser()
    return path if path.is_file() else None


def _video(card: Card, entry: "HistoryEntry", page_dir: Path) -> None:
    saved = _local(entry.local_path)
    if saved is not None:
        card.video, card.video_saved = relative(saved, page_dir), True
        card.files["video"] = saved
    else:
        card.video = web_url(entry.video_url)


def _image(card: Card, entry: "HistoryEntry", page_dir: Path) -> None:
    local = _local(entry.source)
    if local is not None:
        card.image = relative(local, page_dir)
        card.files["image"] = local
    else:
        card.image = web_url(entry.source) or web_url(entry.image_url)


def _poster(card: Card, entry: "HistoryEntry", page_dir: Path,
            poster_maker: "Callable[[Path], Path | None] | None") -> None:
    cover = web_url(entry.cover_url)
    if cover:
        card.poster, card.poster_kind = cover, "cover"
        return
    video = card.files.get("video")
    frame = poster_maker(video) if video is not None and poster_maker is not None else None
    if frame is not None:
        card.poster, card.poster_kind = relative(frame, page_dir), "frame"
        card.files["poster"] = frame
    elif card.image:
        card.poster, card.poster_kind = card.image, "source"


# ---------------------------------------------------------------- posters from saved videos (the preview extra)

def poster_path(video: Path) -> Path:
    return video.with_name(video.stem + ".poster.png")


def frame_poster(video: Path) -> Path | None:
    """The first frame of a saved video as `<name>.poster.png` beside it (made once, remade when the video
    is newer). None when the extra is missing or the file is not a video PyAV can decode."""
    target = poster_path(video)
    try:
        if target.exists() and target.stat().st_mtime >= video.stat().st_mtime:
            return target
        import av
    except (ImportError, OSError):
        return None
    try:
        with av.open(str(video), timeout=10) as container:
            frame = next(container.decode(video=0))
            image = frame.to_image()  # Pillow (the preview extra)
        image.thumbnail((640, 640))
        tmp = target.with_name(f".{target.name}.tmp")
        image.save(tmp, "PNG")
        os.replace(tmp, target)
        return target
    except Exception:  # noqa: BLE001 - a video ffmpeg cannot read simply has no frame poster
        return None


def preview_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("av") is not None and importlib.util.find_spec("PIL") is not None


def contact_sheet(cards: list[Card], target: Path, *, columns: int = 4, tile: int = 240) -> int:
    """A PNG grid of the cards' local posters (frames or source images); returns how many it holds."""
    try:
        from PIL import Image
    except ImportError:
        raise UsageError("--contact-sheet needs the preview extra (Pillow and PyAV)",
                         hint="install it: pip install 'akool-cli[preview]'") from None
    pictures = [card.files.get("poster") or card.files.get("image") for card in cards]
    tiles = []
    for path in pictures:
        if path is None:
            continue
        try:
            with Image.open(path) as opened:
                picture = opened.convert("RGB")
        except Exception:  # noqa: BLE001 - a file Pillow cannot read is left out
            continue
        picture.thumbnail((tile, tile))
        tiles.append(picture)
    if not tiles:
        raise UsageError("no poster or source image on this machine to put in a contact sheet",
                         hint="save the videos first (akool download), with the preview extra for frames")
    rows = (len(tiles) + columns - 1) // columns
    sheet = Image.new("RGB", (columns * tile, rows * tile), (24, 24, 28))
    for n, picture in enumerate(tiles):
        x, y = (n % columns) * tile, (n // columns) * tile
        sheet.paste(picture, (x + (tile - picture.width) // 2, y + (tile - picture.height) // 2))
    tmp = target.with_name(f".{target.name}.tmp")
    sheet.save(tmp, "PNG")
    os.replace(tmp, target)
    return len(tiles)


def summary(cards: list[Card], now: float) -> dict[str, Any]:
    """The line above the cards: jobs, credits, saved, expiring within a day and not saved."""
    return {
        "jobs": len(cards),
        "estimated_low": sum(c.estimate_low or 0 for c in cards),
        "estimated_high": sum((c.estimate_high or c.estimate_low or 0) for c in cards),
        "charged": sum(c.charged or 0 for c in cards),
        "saved": sum(1 for c in cards if c.video_saved),
        "expiring": sum(1 for c in cards if not c.video_saved and c.status == "completed"
                        and now < c.expires_at <= now + 86400),
    }
