"""`akool gallery --serve`: the gallery on a loopback server where Keep downloads and Reject deletes.

Only 127.0.0.1, a random port, and a per-launch secret in every path; the Host header must name this
server and a POST's Origin must be this page (no other site, no DNS rebinding). It serves the page, the
posters, source images and saved videos the page names, and two actions on the page's own job ids:
download (the CLI's `akool download`) and delete (the CLI's `akool delete`, confirmed on the page with
the CLI's question). Nothing it serves can create a job: nothing here spends credits.
"""

from __future__ import annotations

import json
import mimetypes
import os
import secrets
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from akool_cli.context import App
    from akool_cli.flows.gallery import Card

MAX_BODY = 64 * 1024


class GallerySite:
    """What the server may hand out and do, decided before it starts."""

    def __init__(self, state: "App", cards: list["Card"], title: str, folder: Path) -> None:
        self.state = state
        self.token = secrets.token_urlsafe(24)
        self.cards = cards
        self.ids = {c.id for c in cards}
        self.folder = folder
        self.files: dict[str, Path] = {}
        self.sources: dict[str, dict[str, str | None]] = {}
        for card in cards:
            src: dict[str, str | None] = {"video": card.video, "poster": card.poster, "image": card.image}
            for role, path in card.files.items():
                name = f"{len(self.files)}{path.suffix.lower()}"
                self.files[name] = path
                src[role] = f"/{self.token}/f/{name}"
                if role == "image" and card.poster_kind == "source":
                    src["poster"] = src[role]
            self.sources[card.id] = src
        self.title = title
        self.page = b""

    def render(self) -> None:
        from akool_cli.flows.gallery import summary
        from akool_cli.output.gallery_html import render_gallery

        now = self.state.runtime.clock()
        self.page = render_gallery(self.cards, summary(self.cards, now), now=now, title=self.title,
                                   sources=self.sources, api=f"/{self.token}/api/").encode()

    # ------------------------------------------------------------ the two actions

    def download(self, ids: list[str]) -> dict[str, Any]:
        from akool_cli.core.errors import AkoolError
        from akool_cli.flows.fetch import OutputTarget, save_jobs
        from akool_cli.flows.wait import fetch_jobs

        deps = self.state.deps()
        jobs = [job for job in fetch_jobs(deps.client(), ids) if job.downloadable]
        deps.history().update_from_jobs(jobs)
        result = save_jobs(deps, jobs, OutputTarget.folder(str(self.folder), False))
        failed = [f"{job.id}: {error.message}" for job, error, _ in result.failures]
        not_ready = sorted(set(ids) - {job.id for job in jobs})
        message = f"saved {len(result.paths)} video(s) in {self.folder}"
        if failed or not_ready:
            message += f"; not saved: {len(failed) + len(not_ready)}"
        if failed and not result.paths:
            raise AkoolError(message + " (" + "; ".join(failed)[:300] + ")")
        return {"message": message, "saved": {k: str(v) for k, v in result.paths.items()},
                "not_ready": not_ready, "failed": failed}

    def delete(self, ids: list[str]) -> dict[str, Any]:
        from akool_cli.flows.delete import delete_jobs

        done = delete_jobs(self.state.deps(), ids)
        deleted = [i for i in ids if i in done.result.success_ids or i in done.already]
        return {"message": f"deleted {len(deleted)} of {len(ids)} video(s)", "deleted": deleted,
                "refused": [{"_id": r.id, "msg": r.msg} for r in done.result.refused if r.id in done.not_deleted]}


class GalleryHandler(BaseHTTPRequestHandler):
    site: GallerySite  # set on the subclass each server makes (_handler)
    server_version = "akool-gallery"
    sys_version = ""

    @property
    def port(self) -> int:
        return int(getattr(self.server, "server_port"))

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
        pass  # the terminal shows what the actions did, not every poster fetched

    def _allowed_host(self) -> bool:
        port = self.port
        return self.headers.get("Host", "") in (f"127.0.0.1:{port}", f"localhost:{port}")

    def _send(self, status: int, body: bytes, kind: str = "application/json",
              extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        self._send(status, json.dumps(payload).encode())

    def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
        if not self._allowed_host():
            return self._send(421, b"misdirected request", "text/plain")
        path = urlsplit(self.path).path
        prefix = f"/{self.site.token}/"
        if path == prefix:
            return self._send(200, self.site.page, "text/html; charset=utf-8")
        if path.startswith(prefix + "f/") and path[len(prefix) + 2:] in self.site.files:
            return self._file(self.site.files[path[len(prefix) + 2:]])
        self._send(404, b"not found", "text/plain")

    do_HEAD = do_GET

    def _file(self, path: Path) -> None:
        """The file, or the one range a video element asks for: only those bytes are read."""
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        try:
            with path.open("rb") as handle:
                size = os.fstat(handle.fileno()).st_size
                ranged = _range(self.headers.get("Range"), size)
                start, end = ranged if ranged is not None else (0, size - 1)
                handle.seek(start)
                data = handle.read(max(0, end - start + 1))
        except OSError:
            return self._send(404, b"not found", "text/plain")
        if ranged is None:
            return self._send(200, data, kind, {"Accept-Ranges": "bytes"})
        self._send(206, data, kind, {"Accept-Ranges": "bytes", "Content-Range": f"bytes {start}-{end}/{size}"})

    def do_POST(self) -> None:  # noqa: N802
        port = self.port
        if not self._allowed_host():
            return self._send(421, b"misdirected request", "text/plain")
        if self.headers.get("Origin") not in (f"http://127.0.0.1:{port}", f"http://localhost:{port}"):
            return self._json(403, {"message": "refused: this request does not come from the gallery page"})
        action = urlsplit(self.path).path.removeprefix(f"/{self.site.token}/api/")
        if action not in ("download", "delete") or not self.path.startswith(f"/{self.site.token}/api/"):
            return self._json(404, {"message": "no such action"})
        body = self._body()
        if body is None:
            return self._json(400, {"message": "expected a JSON body {job_ids, confirmed}"})
        ids = body.get("job_ids")
        if not isinstance(ids, list) or not ids or not all(isinstance(i, str) and i in self.site.ids for i in ids):
            return self._json(400, {"message": "job_ids must be ids of this gallery's cards"})
        if action == "delete" and body.get("confirmed") is not True:
            return self._json(400, {"message": "deleting needs the page's confirmation"})
        self._act(action, ids)

    def _body(self) -> dict[str, Any] | None:
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            return None
        if not 0 < length <= MAX_BODY:
            return None
        try:
            body = json.loads(self.rfile.read(length))
        except ValueError:
            return None
        return body if isinstance(body, dict) else None

    def _act(self, action: str, ids: list[str]) -> None:
        from akool_cli.core.errors import AkoolError

        try:
            result = self.site.download(ids) if action == "download" else self.site.delete(ids)
        except AkoolError as error:
            self.site.state.renderer.error(error)
            return self._json(502, {"message": f"error: {error.message}"})
        self.site.state.renderer.info(result["message"])
        self._json(200, result)



def _handler(site: GallerySite) -> type[BaseHTTPRequestHandler]:
    return type("Handler", (GalleryHandler,), {"site": site})


def _range(header: str | None, size: int) -> tuple[int, int] | None:
    """One `bytes=A-B` range (what a video element asks for); anything else gets the whole file."""
    if not header or not header.startswith("bytes=") or "," in header or size == 0:
        return None
    first, _, last = header[6:].partition("-")
    try:
        if first:
            start = int(first)
            end = int(last) if last else size - 1
        else:
            start, end = max(0, size - int(last)), size - 1
    except ValueError:
        return None
    if start > end or start >= size:
        return None
    return start, min(end, size - 1)


def serve_gallery(state: "App", cards: list["Card"], *, title: str, open_browser: bool,
                  folder: Path | None = None, ready: Any = None) -> None:
    """Serve until Ctrl-C. `ready(url)` is called once listening (tests); people get the address on stderr."""
    site = GallerySite(state, cards, title, folder or Path.cwd())
    site.render()
    server = HTTPServer(("127.0.0.1", 0), _handler(site))
    url = f"http://127.0.0.1:{server.server_address[1]}/{site.token}/"
    state.renderer.info(f"gallery of {len(cards)} job(s) at {url} (Keep downloads to {site.folder}; "
                        "Ctrl-C stops it)")
    if ready is not None:
        ready(url)
    if open_browser:
        import webbrowser

        webbrowser.open(url)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        state.renderer.info("gallery server stopped")
    finally:
        server.server_close()
