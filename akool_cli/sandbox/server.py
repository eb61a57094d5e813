"""The sandbox HTTP server: same paths, bodies, envelopes and business codes as Akool's API.

Standard library only, so it starts fast and can run wherever Python does.
Beyond the vendor's endpoints it serves a few of its own under /_sandbox/:
uploads and generated videos (so everything works offline), and a control surface
for tests: fault injection, request statistics and a reset.
"""

from __future__ import annotations

import json
import re
import secrets
import socket
import threading
import time
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from typing import Any, Callable
from urllib.parse import unquote, urlsplit

from akool_cli.sandbox import data

# Documented, deliberately public: the sandbox spends no money.
SANDBOX_CLIENT_ID = "sandbox-client16"  # 16 bytes: it is the AES IV of webhook payloads
SANDBOX_CLIENT_SECRET = "sandbox-secret-key-24byt"  # 24 bytes: the AES-192 key
SANDBOX_API_KEY = SANDBOX_CLIENT_SECRET  # as on Akool, the console's API key is the clientSecret

ENDPOINTS = {
    ("POST", "/api/open/v3/getToken"): "token",
    ("POST", "/api/open/v4/image2Video/createBySourcePrompt"): "create",
    ("POST", "/api/open/v4/image2Video/resultsByIds"): "results",
    ("GET", "/api/open/v4/image2Video/effects"): "effects",
    ("POST", "/api/open/v4/image2Video/updateVideoAudio"): "add_audio",
    ("POST", "/api/open/v4/image2Video/delbyids"): "delete",
    ("POST", "/_sandbox/upload"): "upload",
}
ID_RE = re.compile(r"^[0-9a-f]{24}$")
MAX_UPLOAD = 50 * 1024 * 1024
CHUNK = 256 * 1024


@dataclass
class Fault:
    """One injected misbehaviour. `times` = 0 means every matching request."""

    endpoint: str  # an ENDPOINTS name, "video", "file" or "*"
    kind: str  # http html empty truncated nocode baddata badstatus business slow drop midstream fail_job
    status: int = 500
    retry_after: str | None = None
    code: int = 1003
    seconds: float = 1.0
    times: int = 1
    after: bool = False  # misbehave after the request took effect (a created job exists)

    def matches(self, endpoint: str) -> bool:
        return self.endpoint in (endpoint, "*")


FAULT_KINDS = {"http", "html", "empty", "truncated", "nocode", "baddata", "badstatus", "business", "slow",
               "drop", "midstream", "fail_job"}


def parse_fault(spec: str) -> Fault:
    """`ENDPOINT:KIND[:key=value...]`, e.g. `create:503`, `results:429:retry_after=2:times=3`."""
    parts = spec.split(":")
    if len(parts) < 2 or not parts[0] or not parts[1]:
        raise ValueError(f"bad fault {spec!r}: expected ENDPOINT:KIND[:key=value...]")
    endpoint, kind = parts[0], parts[1]
    fault = Fault(endpoint=endpoint, kind=kind)
    if kind.isdigit():
        fault.kind, fault.status = "http", int(kind)
    elif kind not in FAULT_KINDS:
        raise ValueError(f"bad fault kind {kind!r}: expected an HTTP status or one of {sorted(FAULT_KINDS)}")
    if fault.kind == "html":
        fault.status = 502
    for option in parts[2:]:
        key, _, value = option.partition("=")
        if key == "after":
            fault.after = True
        elif key == "always":
            fault.times = 0
        elif key in ("times", "status", "code"):
            setattr(fault, key, int(value))
        elif key == "seconds":
            fault.seconds = float(value)
        elif key == "retry_after":
            fault.retry_after = value
        else:
            raise ValueError(f"bad fault option {option!r}")
    return fault


@dataclass
class SandboxConfig:
    host: str = "127.0.0.1"
    port: int = 8765
    api_key: str = SANDBOX_API_KEY
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: str = SANDBOX_CLIENT_SECRET
    queue_seconds: float = 1.0
    process_seconds: float = 3.0
    latency: float = 0.0
    plan: str = "pro"  # "basic" refuses 10 s videos and the premium model, as entry plans do
    state_file: Path | None = None
    video_bytes: int = 0  # pad served videos to this size (benchmarks); 0 = the plain sample
    video_chunk_delay: float = 0.0  # pause between 256 KiB chunks of padding: a slow download
    faults: list[Fault] = field(default_factory=list)
    webhook_attempts: int = 5
    webhook_retry_seconds: float = 0.5


def uploads_folder(state_file: Path) -> Path:
    """Where a sandbox with this state file keeps uploaded files."""
    return state_file.parent / "sandbox-uploads"


def _sample_video() -> bytes:
    return resources.files("akool_cli.sandbox").joinpath("assets/sample.mp4").read_bytes()


class SandboxState:
    """Jobs, tokens, uploads, faults and statistics, behind one lock."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.jobs: dict[str, dict[str, Any]] = {}
        self.tokens: set[str] = set()
        self.uploads: dict[str, bytes] = {}
        self.faults: list[Fault] = list(config.faults)
        self.fail_next = 0
        self.base_url = ""
        self.reset_stats()
        self._load()

    # ------------------------------------------------------------ persistence

    def _load(self) -> None:
        path = self.config.state_file
        if not path or not path.exists():
            return
        try:
            saved = json.loads(path.read_text())
            self.jobs = dict(saved.get("jobs", {}))
            self.tokens = set(saved.get("tokens", []))
        except (OSError, ValueError, AttributeError):
            self.jobs, self.tokens = {}, set()  # a broken state file is a fresh sandbox

    def save(self) -> None:
        path = self.config.state_file
        if not path:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"jobs": self.jobs, "tokens": sorted(self.tokens)}))
        tmp.replace(path)

    def upload_dir(self) -> Path | None:
        return uploads_folder(self.config.state_file) if self.config.state_file else None

    # ------------------------------------------------------------ statistics

    def reset_stats(self) -> None:
        self.counts: dict[str, int] = {}
        self.inflight: dict[str, int] = {}
        self.max_inflight: dict[str, int] = {}
        self.connections = 0
        self.log: list[dict[str, Any]] = []
        self.webhooks: list[dict[str, Any]] = []

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {"requests": dict(self.counts), "max_inflight": dict(self.max_inflight),
                    "connections": self.connections, "log": list(self.log), "jobs": len(self.jobs),
                    "webhooks": list(self.webhooks)}

    def due_callbacks(self) -> list[tuple[str, dict[str, Any]]]:
        """(url, payload) for each status a job with a webhook reached and was not told of yet."""
        due = []
        with self.lock:
            for job in self.jobs.values():
                extra = job["_sandbox"]
                if not job.get("webhookUrl") or extra["deleted"]:
                    continue
                status = self.status_of(job)
                reached = [2] if status == 2 else [2, status] if status in (3, 4) else []
                for step in reached:
                    if step in extra["notified"]:
                        continue
                    extra["notified"].append(step)
                    payload = {"_id": job["_id"], "status": step, "type": "image2video"}
                    if step == 3:
                        payload["url"] = f"{self.base_url}/_sandbox/videos/{job['_id']}.mp4"
                    due.append((job["webhookUrl"], payload))
            if due:
                self.save()
        return due

    def _take(self, wanted: Callable[[Fault], bool]) -> Fault | None:
        """The first matching fault, used up by one (times 0 never runs out)."""
        with self.lock:
            for fault in self.faults:
                if wanted(fault):
                    if fault.times == 1:
                        self.faults.remove(fault)
                    elif fault.times > 1:
                        fault.times -= 1
                    return fault
        return None

    def take_fault(self, endpoint: str, after: bool) -> Fault | None:
        return self._take(lambda f: f.matches(endpoint) and f.after == after and f.kind != "fail_job")

    def take_fail_job(self) -> bool:
        return self._take(lambda f: f.kind == "fail_job") is not None

    # ------------------------------------------------------------ jobs

    def now_ms(self) -> int:
        return int(self.clock() * 1000)

    def status_of(self, job: dict[str, Any]) -> int:
        elapsed = self.clock() - job["create_time"] / 1000
        if elapsed < self.config.queue_seconds:
            return 1
        if elapsed < self.config.queue_seconds + self.config.process_seconds:
            return 2
        return 4 if job["_sandbox"]["fail"] else 3

    def view(self, job: dict[str, Any]) -> dict[str, Any]:
        """A job as resultsByIds shows it (vendor page field list)."""
        status = self.status_of(job)
        start = job["create_time"]
        if status == 1:
            updated = start
        elif status == 2:
            updated = start + int(self.config.queue_seconds * 1000)
        else:
            updated = start + int((self.config.queue_seconds + self.config.process_seconds) * 1000)
        shown = {k: v for k, v in job.items() if not k.startswith("_") or k == "_id"}
        shown.update({"status": status, "update_time": updated,
                      "video_duration": 10.063 if job["_sandbox"]["length"] == 10 else 5.063})
        if status == 3:
            shown["video_url"] = f"{self.base_url}/_sandbox/videos/{job['_id']}.mp4"
        return shown


def new_id() -> str:
    return secrets.token_hex(12)


class ApiFailure(Exception):
    def __init__(self, code: int, msg: str) -> None:
        super().__init__(msg)
        self.code = code
        self.msg = msg


def _require(condition: bool, msg: str, code: int = 1003) -> None:
    if not condition:
        raise ApiFailure(code, msg)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://")) and len(value) > 10


def _ids(body: dict[str, Any]) -> list[str]:
    raw = body.get("_ids")
    _require(isinstance(raw, str) and raw.strip() != "", "_ids is required: a comma-separated list of ids")
    ids = [part.strip() for part in raw.split(",")]
    _require(all(ID_RE.match(i) for i in ids), "_ids must be comma-separated video ids (24 hex characters each)")
    return ids


class Api:
    """The vendor's endpoints. Each takes the JSON body and returns the envelope's `data`."""

    def __init__(self, state: SandboxState) -> None:
        self.state = state
        self.effects = {e["effect_code"]: e for e in data.EFFECTS}

    def check_auth(self, headers: Any) -> None:
        config = self.state.config
        key = headers.get("x-api-key")
        auth = headers.get("Authorization") or ""
        if key:
            _require(secrets.compare_digest(key, config.api_key), "Invalid authorization", 1101)
            return
        if auth.startswith("Bearer ") and auth[7:].strip():
            with self.state.lock:
                _require(auth[7:].strip() in self.state.tokens, "Invalid authorization or token has expired", 1101)
            return
        raise ApiFailure(1102, "Authorization cannot be empty")

    def token(self, body: dict[str, Any]) -> dict[str, Any]:
        config = self.state.config
        _require(isinstance(body.get("clientId"), str) and isinstance(body.get("clientSecret"), str),
                 "clientId and clientSecret are required")
        _require(body["clientId"] == config.client_id and body["clientSecret"] == config.client_secret,
                 "Invalid clientId or clientSecret", 1101)
        token = "sbx." + secrets.token_urlsafe(24)
        with self.state.lock:
            self.state.tokens.add(token)
            self.state.save()
        return {"token": token}

    def create(self, body: dict[str, Any]) -> dict[str, Any]:
        _require(_is_url(body.get("image_url")), "image_url is required and must be an http(s) URL")
        _require(isinstance(body.get("prompt"), str) and body["prompt"].strip() != "", "prompt is required")
        _require(isinstance(body.get("negative_prompt"), str), "negative_prompt is required and must be a string")
        _require(body.get("resolution") in data.RESOLUTIONS, "resolution must be one of 720p, 1080p, 4k")
        _require(_is_int(body.get("audio_type")) and body["audio_type"] in data.AUDIO_TYPES,
                 "audio_type must be 1 (AI generate), 2 (custom upload) or 3 (none)")
        _require(_is_int(body.get("video_length")) and body["video_length"] in data.VIDEO_LENGTHS,
                 "video_length must be 5 or 10")
        for flag in ("extend_prompt", "is_premium_model"):
            _require(body.get(flag) is None or isinstance(body[flag], bool), f"{flag} must be a boolean")
        audio_url = body.get("audio_url")
        _require(audio_url is None or isinstance(audio_url, str), "audio_url must be a string")
        if body["audio_type"] == 2:
            _require(_is_url(audio_url), "audio_url is required when audio_type = 2")
        code = body.get("effect_code")
        _require(code is None or (isinstance(code, str) and code in self.effects),
                 f"effect_code {code!r} does not exist")
        webhook = body.get("webhookurl")
        _require(webhook is None or _is_url(webhook), "webhookurl must be an http(s) URL")
        if self.state.config.plan != "pro":
            _require(body["video_length"] != 10, "10s videos are only available for pro and above", 1009)
            _require(not body.get("is_premium_model"), "the premium model is only for pro and above", 1009)

        effect = self.effects.get(code) if code else None
        prompt = body["prompt"]
        job = {
            "create_time": self.state.now_ms(),
            "uid": data.UID,
            "team_id": data.TEAM_ID,
            "status": 1,
            "webhookUrl": webhook or "",
            "resolution": body["resolution"],
            "file_name": f"Image2Video_{prompt[:24]}.mp4",
            "effect_name": effect["name"] if effect else "",
            "_id": new_id(),
            "image_url": body["image_url"],
            "prompt": prompt,
            "negative_prompt": body["negative_prompt"],
            "extend_prompt": bool(body.get("extend_prompt", False)),
            "audio_type": body["audio_type"],
            "audio_url": audio_url or "",
            "deduction_credit": data.CREDITS[(body["resolution"], body["video_length"])],
            "effect_code": code or "",
        }
        return self._store(job, body["video_length"], only_audio=False)

    def _store(self, job: dict[str, Any], length: int, only_audio: bool) -> dict[str, Any]:
        response = dict(job)
        job["only_add_audio"] = only_audio
        job["_sandbox"] = {"length": length, "fail": self.state.take_fail_job(), "deleted": False,
                           "notified": []}
        with self.state.lock:
            self.state.jobs[job["_id"]] = job
            self.state.save()
        return response

    def results(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = _ids(body)
        with self.state.lock:
            found = [self.state.jobs.get(i) for i in ids]
            result = [self.state.view(j) for j in found if j and not j["_sandbox"]["deleted"]]
        return {"result": result}

    def effects_list(self, body: dict[str, Any]) -> dict[str, Any]:
        return {"result": [dict(e) for e in data.EFFECTS], "count": len(data.EFFECTS)}

    def add_audio(self, body: dict[str, Any]) -> dict[str, Any]:
        pre_id = body.get("pre_video_id")
        _require(isinstance(pre_id, str) and pre_id != "", "pre_video_id is required")
        _require(_is_int(body.get("audio_type")) and body["audio_type"] in (1, 2),
                 "audio_type must be 1 (AI generate) or 2 (custom upload)")
        audio_url = body.get("audio_url")
        if body["audio_type"] == 2:
            _require(_is_url(audio_url), "audio_url is required when audio_type = 2")
        with self.state.lock:
            original = self.state.jobs.get(pre_id)
            _require(original is not None and not original["_sandbox"]["deleted"],
                     "the video does not exist", 1008)
            _require(self.state.status_of(original) == 3, "the video is not completed yet")
        length = original["_sandbox"]["length"]
        job = {
            "create_time": self.state.now_ms(),
            "uid": data.UID,
            "team_id": data.TEAM_ID,
            "update_time": self.state.now_ms(),
            "video_duration": 10.063 if length == 10 else 5.063,
            "webhookUrl": original["webhookUrl"],
            "resolution": original["resolution"],
            "file_name": original["file_name"],
            "effect_name": original["effect_name"],
            "_id": new_id(),
            "pre_video_id": pre_id,
            "image_url": original["image_url"],
            "prompt": original["prompt"],
            "negative_prompt": original["negative_prompt"],
            "extend_prompt": original["extend_prompt"],
            "audio_type": body["audio_type"],
            "audio_url": audio_url or "",
            "deduction_credit": data.AUDIO_ONLY_CREDITS[length],
            "effect_code": original["effect_code"],
            "status": 1,
            "only_add_audio": True,
        }
        return self._store(job, length, only_audio=True)

    def delete(self, body: dict[str, Any]) -> dict[str, Any]:
        ids = _ids(body)
        deleted: list[str] = []
        refused: list[dict[str, str]] = []
        with self.state.lock:
            for job_id in ids:
                job = self.state.jobs.get(job_id)
                if job is None or job["_sandbox"]["deleted"]:
                    refused.append({"_id": job_id, "msg": "video resource does not exist"})
                elif self.state.status_of(job) in (1, 2):
                    refused.append({"_id": job_id, "msg": "video resource is processing, please try again later"})
                else:
                    job["_sandbox"]["deleted"] = True
                    deleted.append(job_id)
            self.state.save()
        return {"successIds": deleted, "noPermissionItems": refused}

    def upload(self, body: bytes, filename: str) -> dict[str, Any]:
        _require(0 < len(body) <= MAX_UPLOAD, f"upload must be 1 byte to {MAX_UPLOAD} bytes")
        name = re.sub(r"[^A-Za-z0-9._-]", "_", filename)[-80:] or "upload.bin"
        key = f"{secrets.token_hex(8)}/{name}"
        folder = self.state.upload_dir()
        if folder:
            (folder / key).parent.mkdir(parents=True, exist_ok=True)
            (folder / key).write_bytes(body)
        else:
            with self.state.lock:
                self.state.uploads[key] = body
        return {"url": f"{self.state.base_url}/_sandbox/files/{key}"}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so clients can reuse one connection
    server: "SandboxServer"

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.log_requests:
            super().log_message(format, *args)

    def setup(self) -> None:
        super().setup()
        with self.server.state.lock:
            self.server.state.connections += 1

    # ------------------------------------------------------------ plumbing

    def _send(self, status: int, body: bytes, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:
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
        else:
            return False
        return True

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # ------------------------------------------------------------ routing

    def do_GET(self) -> None:
        self._route("GET")

    def do_POST(self) -> None:
        self._route("POST")

    def _route(self, method: str) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/_sandbox/videos/") and method == "GET":
            return self._video(path)
        if path.startswith("/_sandbox/files/") and method == "GET":
            return self._file(path)
        if path.startswith("/_sandbox/control/"):
            return self._control(method, path)
        endpoint = ENDPOINTS.get((method, path))
        raw = self._read_body()
        if endpoint is None:
            return self._send(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")
        self._api(endpoint, raw)

    def _api(self, endpoint: str, raw: bytes) -> None:
        state = self.server.state
        with state.lock:
            state.counts[endpoint] = state.counts.get(endpoint, 0) + 1
            state.inflight[endpoint] = state.inflight.get(endpoint, 0) + 1
            state.max_inflight[endpoint] = max(state.max_inflight.get(endpoint, 0), state.inflight[endpoint])
            state.log.append({"endpoint": endpoint, "method": self.command, "path": self.path,
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
            if fault and fault.kind == "badstatus" and endpoint == "results":
                for item in payload["result"]:
                    item["status"] = 7
            late = state.take_fault(endpoint, after=True)
            if late and self._apply(late):
                return
            if endpoint == "token":
                return self._envelope(1000, "OK", None, **payload)
            msg = {"effects": "Success", "delete": "Delete successfully"}.get(endpoint, "OK")
            self._envelope(1000, msg, payload)
        finally:
            with state.lock:
                state.inflight[endpoint] -= 1

    def _dispatch(self, endpoint: str, raw: bytes) -> dict[str, Any]:
        api = self.server.api
        if endpoint != "token":
            api.check_auth(self.headers)
        if endpoint == "upload":
            return api.upload(raw, unquote(self.headers.get("X-Filename", "upload.bin")))
        if endpoint == "effects":
            return api.effects_list({})
        body = _json_or_none(raw)
        _require(isinstance(body, dict), "the request body must be a JSON object")
        handler = {"token": api.token, "create": api.create, "results": api.results,
                   "add_audio": api.add_audio, "delete": api.delete}[endpoint]
        return handler(body)

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
        state = self.server.state
        key = path[len("/_sandbox/files/"):]
        folder = state.upload_dir()
        body = None
        if folder and ".." not in key:
            target = folder / key
            body = target.read_bytes() if target.is_file() else None
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
        self._send(404, b"{}")


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None


class SandboxServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.time,
                 log_requests: bool = False) -> None:
        super().__init__((config.host, config.port), Handler)
        self.config = config
        self.state = SandboxState(config, clock)
        self.api = Api(self.state)
        self.sample = _sample_video()
        self.log_requests = log_requests
        host, port = self.server_address[:2]
        self.state.base_url = f"http://{host}:{port}"
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return self.state.base_url

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or are interrupted hang up mid-answer; that is their right, not a bug.
        import sys

        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):
            return
        super().handle_error(request, client_address)

    def notify_forever(self, stop: threading.Event, tick: float = 0.05) -> None:
        """Send webhook callbacks as jobs move, each delivery on its own thread."""
        try:
            from akool_cli.sandbox.webhooks import callback_body, deliver
            import cryptography  # noqa: F401
        except ImportError:
            return  # without the crypto library the sandbox cannot sign callbacks; the API still works
        config = self.config

        def send(url: str, payload: dict[str, Any]) -> None:
            body = callback_body(payload, config.client_id, config.client_secret, self.state.clock)
            delivered, tries = deliver(url, body, config.webhook_attempts, config.webhook_retry_seconds)
            with self.state.lock:
                self.state.webhooks.append({**payload, "delivered": delivered, "attempts": tries, "to": url})

        while not stop.wait(tick):
            for url, payload in self.state.due_callbacks():
                threading.Thread(target=send, args=(url, payload), daemon=True).start()

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        stop = threading.Event()
        notifier = threading.Thread(target=self.notify_forever, args=(stop,), name="akool-sandbox-webhooks",
                                    daemon=True)
        notifier.start()
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
