"""The sandbox HTTP server: same paths, bodies, envelopes and business codes as Akool's API.

Standard library only, so it starts fast and can run wherever Python does.
Beyond the vendor's endpoints it serves a few of its own under /_sandbox/:
uploads and generated videos (so everything works offline), and a control surface
for tests: fault injection, request statistics and a reset.
"""

from __future__ import annotations

import json
import queue
import re
import secrets
import socket
import threading
import time
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from akool_cli.sandbox.api import Api, ApiFailure, require
from akool_cli.sandbox.state import Fault, SandboxConfig, SandboxState, parse_fault

ENDPOINTS = {
    ("POST", "/api/open/v3/getToken"): "token",
    ("POST", "/api/open/v4/image2Video/createBySourcePrompt"): "create",
    ("POST", "/api/open/v4/image2Video/resultsByIds"): "results",
    ("GET", "/api/open/v4/image2Video/effects"): "effects",
    ("POST", "/api/open/v4/image2Video/updateVideoAudio"): "add_audio",
    ("POST", "/api/open/v4/image2Video/delbyids"): "delete",
    ("POST", "/_sandbox/upload"): "upload",
    ("POST", "/api/open/v4/image2Video/createBySourcePrompt/batch"): "create_batch",
    ("GET", "/api/open/v4/aigModel/list"): "models",
    ("GET", "/api/open/v3/faceswap/quota/info"): "quota",
}
CHUNK = 256 * 1024


def _sample_video() -> bytes:
    return resources.files("akool_cli.sandbox").joinpath("assets/sample.mp4").read_bytes()


def cover_png(width: int = 320, height: int = 240) -> bytes:
    """A poster image for cover_url (model jobs): a real PNG, a vertical gradient, from the stdlib."""
    import struct
    import zlib

    rows = b"".join(b"\x00" + bytes((40 + y % 160, 60, 120 + y % 100)) * width for y in range(height))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


# What an unknown /api/... path answers, in the envelope; undocumented by Akool: the sandbox's choice
# (1008, "the requested content does not exist", is the closest documented code).
UNKNOWN_API_CODE = 1008


class Handler(BaseHTTPRequestHandler):
    _in_flight: str | None = None  # the endpoint this request counts against until it is answered
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse one connection
    server: "SandboxServer"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)

    # A client that connects and sends nothing (or half a request) must not hold a thread forever.
    timeout = 30

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with self.server.state.lock:
            self.server.state.connections += 1

    # ------------------------------------------------------------ plumbing

    def _answered(self) -> None:
        """The request stops counting as in flight as its answer starts to leave: a client that has its
        answer and sends the next request is never counted twice (stats' max_inflight is exact)."""
        endpoint = getattr(self, "_in_flight", None)
        if endpoint is not None:
            self._in_flight = None
            state = self.server.state
            with state.lock:
                state.inflight[endpoint] -= 1

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
        self._answered()
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _envelope(self, code: int, msg: str, payload: Any = None, **top: Any) -> None:
        body: dict[str, Any] = {"code": code, "msg": msg}
        if payload is not None:
            body["data"] = payload
        body.update(top)
        self._send(200, json.dumps(body).encode())

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _apply(self, fault: Fault) -> bool:
        """Misbehave as told. True when the request is answered (or dropped) by the fault."""
        if fault.kind == "slow":
            time.sleep(fault.seconds)
            return False
        if fault.kind == "drop":
            self._drop()
        elif fault.kind == "http":
            headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
            self._send(fault.status, f"{fault.status} error\n".encode(), "text/plain", headers)
        elif fault.kind == "html":
            self._send(fault.status, b"<html><head><title>502 Bad Gateway</title></head>"
                       b"<body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        elif fault.kind == "empty":
            self._send(200, b"")
        elif fault.kind == "truncated":
            self._send(200, b'{"code": 1000, "msg": "OK", "data": {"res')
        elif fault.kind == "nocode":
            self._send(200, b'{"msg": "OK", "data": {}}')
        elif fault.kind == "baddata":
            self._send(200, b'{"code": 1000, "msg": "OK", "data": "unexpected"}')
        elif fault.kind == "business":
            self._envelope(fault.code, f"injected business error {fault.code}")
        elif fault.kind == "escape":
            # A hostile message: a terminal title change, a colour, and a forged second error line.
            self._envelope(fault.code, "bad\x1b]0;pwned\x07 \x1b[31mred\nerror: forged line \x9b")
        elif fault.kind == "deep":
            self._send(200, b'{"code": 1000, "msg": "OK", "data": ' + b"[" * 200_000 + b"]" * 200_000 + b"}")
        elif fault.kind == "huge":
            self._stream_huge(int(fault.seconds * 1024 * 1024) if fault.seconds > 1 else 40 * 1024 * 1024)
        elif fault.kind == "drip":
            self._drip(fault.seconds)
        else:
            return False
        return True

    def _stream_huge(self, size: int) -> None:
        """A valid envelope behind `size` bytes of white space, streamed: the client must stop reading."""
        tail = b'{"code": 1000, "msg": "OK", "data": {"result": []}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(size + len(tail)))
        self.end_headers()
        blank = b" " * CHUNK
        try:
            sent = 0
            while sent < size:
                piece = min(CHUNK, size - sent)
                self.wfile.write(blank[:piece])
                sent += piece
            self.wfile.write(tail)
        except OSError:
            self.close_connection = True

    def _drip(self, seconds: float) -> None:
        """One byte every `seconds` (at most 120 bytes): each read is quick, the answer never ends."""
        body = b'{"code": 1000, "msg": "OK", "data": {"result": []}}' + b" " * 70
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(seconds)
        except OSError:
            self.close_connection = True

    @staticmethod
    def _mutate(fault: Fault, endpoint: str, payload: Any) -> Any:
        """Faults that change a real answer instead of replacing it."""
        if isinstance(payload, list):
            items: Any = payload
        elif endpoint == "create_batch":
            items = payload.get("successList")
        else:
            items = payload.get("result") if endpoint in ("results", "effects") else [payload]
        items = items if isinstance(items, list) else []
        if fault.kind == "omit" and endpoint == "results":
            return {**payload, "result": []}
        for item in items:
            if fault.kind == "badstatus":
                item["status"] = 7
            elif fault.kind == "traversal" and "_id" in item:
                item["_id"] = "../../../escaped" if endpoint != "results" else "/tmp/escaped"
            elif fault.kind == "bigint":
                item["deduction_credit"] = 10**30
                item["create_time"] = 10**20
            elif fault.kind == "text":
                for key in ("effect_name", "name", "video_url"):
                    if isinstance(item.get(key), str):
                        item[key] = item[key] + "\x1b]0;pwned\x07\nerror: forged"
        return payload

    def _read_body(self) -> bytes:
        text = (self.headers.get("Content-Length") or "0").strip()
        if not text.isdigit() or int(text) > MAX_BODY:
            raise BadRequest(f"Content-Length {text[:20]!r} is not a size up to {MAX_BODY} bytes")
        length = int(text)
        return self.rfile.read(length) if length > 0 else b""

    # ------------------------------------------------------------ routing

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        self.server.touch()
        if not _loopback_host(self.headers.get("Host", "")):
            # DNS rebinding: a web page's script reaching 127.0.0.1 through a name of the attacker's.
            self.close_connection = True
            return self._send(421, b"misdirected request: the sandbox answers loopback names only", "text/plain")
        try:
            self._route_checked(method)
        except BadRequest as bad:
            self.close_connection = True
            self._send(400, json.dumps({"error": str(bad)}).encode())

    def _route_checked(self, method: str) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/_sandbox/videos/") and method == "GET":
            return self._video(path)
        if path.startswith("/_sandbox/files/") and method == "GET":
            return self._file(path)
        if path.startswith("/_sandbox/covers/") and method == "GET":
            return self._cover(path)
        if path.startswith("/_sandbox/control/"):
            return self._control(method, path)
        endpoint = ENDPOINTS.get((method, path.rstrip("/") if path != "/" else path))
        raw = self._read_body()
        if endpoint is None and path.startswith("/api/"):
            # An API path it does not know: the API's own envelope (the code is the sandbox's choice).
            body = {"code": UNKNOWN_API_CODE, "msg": f"api {method} {path[:200]} does not exist", "data": None}
            return self._send(404, json.dumps(body).encode())
        if endpoint is None:
            return self._send(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        self._api(endpoint, raw)

    def _api(self, endpoint: str, raw: bytes) -> None:
        state = self.server.state
        with state.lock:
            state.counts[endpoint] = state.counts.get(endpoint, 0) + 1
            state.inflight[endpoint] = state.inflight.get(endpoint, 0) + 1
            state.max_inflight[endpoint] = max(state.max_inflight.get(endpoint, 0), state.inflight[endpoint])
            self._in_flight = endpoint
            state.log.append({"endpoint": endpoint, "method": self.command, "path": self.path, "at": time.monotonic(),
                              "headers": {k.lower(): v for k, v in self.headers.items()},
                              "body": _json_or_none(raw) if endpoint != "upload" else None})
        try:
            if state.config.latency:
                time.sleep(state.config.latency)
            fault = state.take_fault(endpoint, after=False)
            if fault and self._apply(fault):
                return
            try:
                payload = self._dispatch(endpoint, raw)
            except ApiFailure as failure:
                return self._envelope(failure.code, failure.msg)
            if fault:
                payload = self._mutate(fault, endpoint, payload)
            late = state.take_fault(endpoint, after=True)
            if late and self._apply(late):
                return
            if endpoint == "token":
                return self._envelope(1000, "OK", None, **payload)
            msg = {"effects": "Success", "delete": "Delete successfully"}.get(endpoint, "OK")
            self._envelope(1000, msg, payload)
        finally:
            self._answered()  # no answer at all (a dropped connection): it ends here

    def _dispatch(self, endpoint: str, raw: bytes) -> dict[str, Any]:
        api = self.server.api
        if endpoint != "token":
            api.check_auth(self.headers)
        if endpoint == "upload":
            return api.upload(raw, unquote(self.headers.get("X-Filename", "upload.bin")))
        if endpoint == "effects":
            return api.effects_list({})
        if endpoint == "models":
            from urllib.parse import parse_qs

            return api.models(parse_qs(urlsplit(self.path).query))  # type: ignore[return-value]
        if endpoint == "quota":
            return api.quota()
        body = _json_or_none(raw)
        require(isinstance(body, dict), "the request body must be a JSON object")
        if endpoint == "create_batch":
            return api.create_batch(body, partial=self.server.state.take_partial())
        handler = {"token": api.token, "create": api.create, "results": api.results,
                   "add_audio": api.add_audio, "delete": api.delete}[endpoint]
        return handler(body)

    def _cover(self, path: str) -> None:
        state = self.server.state
        job_id = path.rsplit("/", 1)[-1].removesuffix(".png")
        with state.lock:
            job = state.jobs.get(job_id)
            ready = job is not None and not job["_sandbox"]["deleted"] and state.status_of(job) == 3
        if not ready:
            return self._send(404, b"<html><body>NoSuchKey</body></html>", "text/html")
        self._send(200, cover_png(), "image/png")

    def _video(self, path: str) -> None:
        state = self.server.state
        job_id = path.rsplit("/", 1)[-1].removesuffix(".mp4")
        with state.lock:
            state.counts["video"] = state.counts.get("video", 0) + 1
            state.log.append({"endpoint": "video", "method": "GET", "path": self.path, "body": None,
                              "headers": {k.lower(): v for k, v in self.headers.items()}})
            job = state.jobs.get(job_id)
            ready = job is not None and not job["_sandbox"]["deleted"] and state.status_of(job) == 3
        fault = state.take_fault("video", after=False)
        if fault and fault.kind != "midstream" and self._apply(fault):
            return
        if not ready:
            return self._send(404, b"<html><body>NoSuchKey</body></html>", "text/html")
        sample = self.server.sample
        pad = max(0, state.config.video_bytes - len(sample))
        # A trailing top-level 'free' box keeps the padded file a valid, playable MP4.
        pad = max(pad, 8) if pad else 0
        total = len(sample) + pad
        self.send_response(200)
        self.send_header("Content-Type", "video/mp4")
        self.send_header("Content-Length", str(total))
        self.end_headers()
        if fault and fault.kind == "midstream":
            self.wfile.write(sample[: len(sample) // 2])
            self.wfile.flush()
            return self._drop()
        self.wfile.write(sample)
        if pad:
            self.wfile.write(pad.to_bytes(4, "big") + b"free")
            remaining = pad - 8
            zeros = bytes(CHUNK)
            while remaining > 0:
                piece = min(remaining, CHUNK)
                self.wfile.write(zeros[:piece])
                remaining -= piece
                if state.config.video_chunk_delay:
                    time.sleep(state.config.video_chunk_delay)

    def _file(self, path: str) -> None:
        """Serve an uploaded file, and nothing else: the key must have the shape the upload endpoint
        gives, and the resolved path must stay inside the uploads folder."""
        state = self.server.state
        key = path[len("/_sandbox/files/"):]
        folder = state.upload_dir()
        body = None
        if UPLOAD_KEY.fullmatch(key) is None:
            body = None
        elif folder:
            root = folder.resolve()
            target = (root / key).resolve()
            inside = target.parent.parent == root and target.is_file() and not (root / key).is_symlink()
            body = target.read_bytes() if inside else None
        else:
            body = state.uploads.get(key)
        if body is None:
            return self._send(404, b"not found", "text/plain")
        self._send(200, body, "application/octet-stream")

    def _control(self, method: str, path: str) -> None:
        """Test-only controls; not part of Akool's API."""
        state = self.server.state
        raw = self._read_body()
        action = path.rsplit("/", 1)[-1]
        if action == "stats" and method == "GET":
            return self._send(200, json.dumps(state.stats()).encode())
        if action == "faults" and method == "POST":
            try:
                specs = json.loads(raw or b"[]")
                faults = [parse_fault(s) if isinstance(s, str) else Fault(**s) for s in specs]
            except (ValueError, TypeError) as exc:
                return self._send(400, json.dumps({"error": str(exc)}).encode())
            with state.lock:
                state.faults.extend(faults)
            return self._send(200, json.dumps({"faults": [asdict(f) for f in state.faults]}).encode())
        if action == "reset" and method == "POST":
            with state.lock:
                state.faults.clear()
                state.reset_stats()
            return self._send(200, b"{}")
        if action == "expire-tokens" and method == "POST":
            with state.lock:
                state.tokens.clear()
                state.save()
            return self._send(200, b"{}")
        if action == "health":
            return self._send(200, json.dumps({"sandbox": True}).encode())
        if action == "shutdown" and method == "POST":
            wanted = self.server.state.config.control_token
            if wanted and not secrets.compare_digest(self.headers.get("X-Sandbox-Token", ""), wanted):
                return self._send(403, json.dumps({"error": "not your sandbox: wrong control token"}).encode())
            self._send(200, b"{}")
            threading.Thread(target=self.server.shutdown, daemon=True).start()
            return
        self._send(404, b"{}")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except (ValueError, RecursionError):
        return None


class BadRequest(Exception):
    pass


MAX_BODY = 32 * 1024 * 1024
UPLOAD_KEY = re.compile(r"[0-9a-f]{16}/[A-Za-z0-9._-]{1,80}")


def _loopback_host(host: str) -> bool:
    """True for Host headers naming this machine's loopback: localhost, 127.x.y.z, [::1]."""
    name = host.strip().lower()
    if name.startswith("["):
        name = name[1:name.find("]")] if "]" in name else ""
    else:
        name = name.rsplit(":", 1)[0] if name.count(":") == 1 else name
    if name in ("localhost", "::1") or name.endswith(".localhost"):
        return True
    parts = name.split(".")
    return len(parts) == 4 and parts[0] == "127" and all(p.isdigit() and int(p) < 256 for p in parts)


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128  # bursts of parallel clients queue instead of being reset

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.time,
                 log_requests: bool = False) -> None:
        super().__init__((config.host, config.port), Handler)
        self.config = config
        self.state = SandboxState(config, clock)
        self.api = Api(self.state)
        self.sample = _sample_video()
        self.log_requests = log_requests
        host, port = self.server_address[:2]
        self.state.base_url = f"http://{host!s}:{port}"
        self._thread: threading.Thread | None = None
        self._last_request = time.monotonic()

    def touch(self) -> None:
        self._last_request = time.monotonic()

    def _idle_watch(self, stop: threading.Event) -> None:
        idle = self.config.idle_timeout
        while not stop.wait(min(1.0, idle / 4)):
            if time.monotonic() - self._last_request > idle:
                self.shutdown()
                return

    @property
    def base_url(self) -> str:
        return self.state.base_url

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or are interrupted hang up mid-answer; that is their right, not a bug.
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError, OSError)):
            return
        # One line, never a traceback: whatever a client sends is its problem, not the sandbox's.
        sys.stderr.write(f"sandbox: request from {client_address[0]} failed: {type(error).__name__}\n")

    def notify_forever(self, stop: threading.Event, tick: float = 0.05) -> None:
        """Send webhook callbacks as jobs move: one sender a job, so a job's callbacks keep their order."""
        try:
            import cryptography  # noqa: F401  (signing needs it; checked once here)

            from akool_cli.sandbox.webhooks import callback_body, deliver
        except ImportError:
            return  # without the crypto library the sandbox cannot sign callbacks; the API still works
        config = self.config

        def send(url: str, payload: dict[str, Any]) -> None:
            body = callback_body(payload, config.client_id, config.client_secret, self.state.clock)
            delivered, tries = deliver(url, body, config.webhook_attempts, config.webhook_retry_seconds)
            with self.state.lock:
                self.state.webhooks.append({**payload, "delivered": delivered, "attempts": tries, "to": url})

        def sender(inbox: "queue.Queue[tuple[str, dict[str, Any]]]") -> None:
            while True:
                url, payload = inbox.get()
                send(url, payload)
                if payload["status"] in (3, 4):
                    return  # a final status is the job's last callback

        inboxes: dict[str, queue.Queue] = {}
        while not stop.wait(tick):
            for url, payload in self.state.due_callbacks():
                inbox = inboxes.get(payload["_id"])
                if inbox is None:
                    inbox = inboxes[payload["_id"]] = queue.Queue()
                    threading.Thread(target=sender, args=(inbox,), daemon=True).start()
                inbox.put((url, payload))

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        stop = threading.Event()
        notifier = threading.Thread(target=self.notify_forever, args=(stop,), name="akool-sandbox-webhooks",
                                    daemon=True)
        notifier.start()
        if self.config.idle_timeout > 0:
            threading.Thread(target=self._idle_watch, args=(stop,), name="akool-sandbox-idle", daemon=True).start()
        try:
            super().serve_forever(poll_interval)
        finally:
            stop.set()

    def start(self) -> "SandboxServer":
        self._thread = threading.Thread(target=self.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="akool-sandbox", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def start_sandbox(config: SandboxConfig | None = None, clock: Callable[[], float] = time.time) -> SandboxServer:
    """Start a sandbox on a background thread; port 0 picks a free port."""
    return SandboxServer(config or SandboxConfig(), clock).start()
