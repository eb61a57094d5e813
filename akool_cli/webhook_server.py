"""The receiving end of Akool's webhooks: a small HTTP server that answers as Akool expects.

200 for a valid callback (and for a replay, so Akool stops resending it), 401 for a bad
signature or a stale timestamp, 400 for a body that is not a callback.
"""

from __future__ import annotations

import json
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from akool_cli.webhook import ReplayGuard, WebhookError, open_callback, parse_body

MAX_BODY = 1024 * 1024


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, host: str, port: int, client_id: str, client_secret: str, guard: ReplayGuard,
                 on_event: Callable[[dict[str, Any]], None], on_reject: Callable[[WebhookError], None],
                 clock: Callable[[], float] = time.time) -> None:
        super().__init__((host, port), _Handler)
        self.client_id = client_id
        self.client_secret = client_secret
        self.guard = guard
        self.on_event = on_event
        self.on_reject = on_reject
        self.clock = clock


class _Handler(BaseHTTPRequestHandler):
    server: Receiver

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the command reports each callback itself

    def _answer(self, status: int, message: str) -> None:
        body = json.dumps({"msg": message}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            return self._answer(413, "body too large")
        raw = self.rfile.read(length) if length > 0 else b""
        server = self.server
        try:
            callback = open_callback(parse_body(raw), server.client_id, server.client_secret,
                                     now=server.clock(), guard=server.guard)
        except WebhookError as error:
            server.on_reject(error)
            return self._answer(error.status, error.message)
        if callback.replay:
            return self._answer(200, "replay ignored")
        try:
            server.on_event(callback.event)
        except Exception:  # noqa: BLE001 - not recorded, so ask Akool to send it again
            server.guard.forget(callback.nonce, callback.timestamp)
            return self._answer(500, "could not record the event; send it again")
        self._answer(200, "ok")

    def do_GET(self) -> None:
        self._answer(405, "Akool webhooks are POSTed here")
