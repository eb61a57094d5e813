"""The receiving end of Akool's webhooks: a small HTTP server that answers as Akool expects.

200 for a valid callback (and for a replay, so Akool stops resending it), 401 for a bad
signature or a stale timestamp, 400 for a body that is not a callback.
"""

from __future__ import annotations

import email.utils
import functools
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

from akool_cli.api.webhook import ReplayGuard, WebhookError, open_callback, parse_body
from akool_cli.core.validation import is_job_id

MAX_BODY = 1024 * 1024


MAX_WORKERS = 32
# A connection has this long to send its whole request (headers and body), however it trickles it;
# a per-read timeout alone lets one byte every few seconds hold a slot for ever.
REQUEST_DEADLINE = 10.0


class Receiver(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # a real backlog: bursts wait instead of being reset

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
        self.workers = threading.BoundedSemaphore(MAX_WORKERS)
        self.reading: dict[Any, float] = {}  # connections still sending their request -> when they began
        self.reading_lock = threading.Lock()
        # Connections are served by a pool of threads, started as needed up to MAX_WORKERS and kept: a
        # thread started per connection (ThreadingMixIn's way) costs more than the callback's own work.
        # The slots above keep every connection the pool holds to one with a thread free for it.
        self.pool = ThreadPoolExecutor(max_workers=MAX_WORKERS, thread_name_prefix="webhook")
        threading.Thread(target=self._reap, daemon=True).start()

    def _reap(self) -> None:
        """Close every connection that has not sent its whole request within REQUEST_DEADLINE."""
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self.reading_lock:
                late = [sock for sock, began in self.reading.items() if now - began > REQUEST_DEADLINE]
            for sock in late:
                self._cut(sock)

    def _cut(self, sock: Any) -> None:
        import socket

        with self.reading_lock:
            self.reading.pop(sock, None)
        try:
            sock.shutdown(socket.SHUT_RDWR)  # its handler's read returns at once and the slot is freed
        except OSError:
            pass

    def _evict_slowest(self) -> bool:
        """When every slot is taken, the connection that has been sending longest makes room."""
        with self.reading_lock:
            oldest = min(self.reading.items(), key=lambda item: item[1], default=None)
        if oldest is None:
            return False
        self._cut(oldest[0])
        return self.workers.acquire(timeout=2.0)

    def process_request(self, request: Any, client_address: Any) -> None:
        # At most MAX_WORKERS connections are served at once (300 half-sent POSTs must not hold 300
        # threads); when full, the slowest sender is closed to make room, else the newcomer gets 503.
        if not self.workers.acquire(blocking=False) and not self._evict_slowest():
            try:
                request.sendall(b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            except OSError:
                pass
            self.shutdown_request(request)
            return
        with self.reading_lock:
            self.reading[request] = time.monotonic()
        self.pool.submit(self.process_request_thread, request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self.reading_lock:
                self.reading.pop(request, None)
            self.workers.release()

    def server_close(self) -> None:
        """Stop: connections still sending are cut (their threads end now, not at their deadline), and
        the pool takes no more."""
        super().server_close()
        with self.reading_lock:
            sending = list(self.reading)
        for sock in sending:
            self._cut(sock)
        self.pool.shutdown(wait=False, cancel_futures=True)

    def request_read(self, request: Any) -> None:
        """The whole request is in: the connection no longer counts as a slow sender."""
        with self.reading_lock:
            self.reading.pop(request, None)

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that misbehaves or hangs up gets no traceback on our stderr


@functools.lru_cache(maxsize=1)
def _http_date(second: int) -> str:
    return email.utils.formatdate(second, usegmt=True)  # what BaseHTTPRequestHandler writes


@functools.lru_cache(maxsize=64)
def _body(message: str) -> bytes:
    return json.dumps({"msg": message}).encode()


class _Handler(BaseHTTPRequestHandler):
    server: Receiver
    # No per-read timeout: the reaper ends any connection that has not sent its whole request within
    # REQUEST_DEADLINE, and the answer (a few hundred bytes) never waits on the client. A socket timeout
    # would put a poll() before every read and write of every callback.
    timeout = None
    wbufsize = 8192  # the status line, headers and body leave in one send (finish() flushes)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the command reports each callback itself

    def date_time_string(self, timestamp: float | None = None) -> str:
        """The Date header, formatted once a second (not once a callback)."""
        if timestamp is not None:
            return super().date_time_string(timestamp)
        return _http_date(int(time.time()))

    def _answer(self, status: int, message: str) -> None:
        body = _body(message)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self) -> None:
        declared = (self.headers.get("Content-Length") or "0").strip()
        if not declared.isdigit():
            self.close_connection = True
            return self._answer(400, "Content-Length is not a number")
        length = int(declared)
        if length > MAX_BODY:
            self.close_connection = True
            return self._answer(413, "body too large")
        raw = self.rfile.read(length) if length > 0 else b""
        server = self.server
        if len(raw) < length:  # cut off (the deadline, or the sender hung up): nothing to answer
            self.close_connection = True
            return
        server.request_read(self.request)
        try:
            callback = open_callback(parse_body(raw), server.client_id, server.client_secret,
                                     now=server.clock(), guard=server.guard)
        except WebhookError as error:
            server.on_reject(error)
            return self._answer(error.status, error.message)
        if callback.replay:
            return self._answer(200, "replay ignored")
        if not is_job_id(callback.event.get("_id")):
            server.guard.forget(callback.data_encrypt)
            server.on_reject(WebhookError("the event's _id is not a job id", 400))
            return self._answer(400, "the event's _id is not a job id")
        try:
            server.on_event(callback.event)
        except Exception:  # noqa: BLE001 - not recorded, so ask Akool to send it again
            server.guard.forget(callback.data_encrypt)
            return self._answer(500, "could not record the event; send it again")
        self._answer(200, "ok")

    def do_GET(self) -> None:
        self._answer(405, "Akool webhooks are POSTed here")
