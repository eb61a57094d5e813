"""The sandbox's state: its configuration, jobs, tokens, injected faults and request statistics."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

# Documented, deliberately public: the sandbox spends no money.
SANDBOX_CLIENT_ID = "sandbox-client16"  # 16 bytes: it is the AES IV of webhook payloads
SANDBOX_CLIENT_SECRET = "sandbox-secret-key-24byt"  # 24 bytes: the AES-192 key
SANDBOX_API_KEY = SANDBOX_CLIENT_SECRET  # as on Akool, the console's API key is the clientSecret


@dataclass
class Fault:
    """One injected misbehaviour. `times` = 0 means every matching request."""

    endpoint: str  # an ENDPOINTS name, "video", "file" or "*"
    kind: str  # one of FAULT_KINDS
    status: int = 500
    retry_after: str | None = None
    code: int = 1003
    seconds: float = 1.0
    times: int = 1
    after: bool = False  # misbehave after the request took effect (a created job exists)
    skip: int = 0  # let this many matching requests through first

    def matches(self, endpoint: str) -> bool:
        return self.endpoint in (endpoint, "*")


FAULT_KINDS = {"http", "html", "empty", "truncated", "nocode", "baddata", "badstatus", "business", "slow",
               "drop", "midstream", "fail_job",
               # hostile answers: JSON nested 200k deep, a body of many MiB (seconds=N: N MiB), one byte a
               # `seconds`, ids that are paths, numbers beyond any credit or time, an error message with terminal escapes (escape), escapes in names (text)
               "deep", "huge", "drip", "omit", "traversal", "bigint", "escape", "text",
               "partial"}  # partial: the last variant of a batch create goes to errorList


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
        elif key in ("times", "status", "code", "skip"):
            setattr(fault, key, int(value))
        elif key == "seconds":
            fault.seconds = float(value)
        elif key == "retry_after":
            fault.retry_after = value
        else:
            raise ValueError(f"bad fault option {option!r}")
    return fault


FAILED_REASON = "the image did not pass content moderation (sandbox: an injected failure)"


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
    idle_timeout: float = 0.0  # stop after this long without a request (a detached sandbox); 0 = never
    balance: float = 100_000.0  # the account's credits; each create is charged, failed jobs refunded
    price_multiplier: float = 1.0  # charge this times the list price (to test estimates against bills)
    # Per endpoint ("create", "create_batch", "add_audio"), instead of price_multiplier: e.g.
    # {"create": 5} charges the single-create endpoint what users report (100 for 720p / 5 s).
    endpoint_multipliers: dict[str, float] = field(default_factory=dict)
    # What a wrong x-api-key answers: 1101 (the vendor's table) or 1109 ("Invalid API key", handled by
    # Akool's own demo client on every call).
    bad_key_code: int = 1101
    # When set, stopping the server over HTTP needs this token (X-Sandbox-Token): another user on the
    # machine can reach the port but cannot read the token file, so cannot stop it.
    control_token: str | None = None
    # The vendor names no limit on the ids of one resultsByIds request. A real service may have one: it may
    # list only the first `results_cap` jobs (silently), or refuse a request naming more than
    # `results_refuse_over` ids (code 1003). 0: no limit, as the vendor page reads.
    results_cap: int = 0
    results_refuse_over: int = 0

    def multiplier(self, endpoint: str) -> float:
        return self.endpoint_multipliers.get(endpoint, self.price_multiplier)


def parse_multiplier(spec: str) -> tuple[str | None, float]:
    """`X` (every endpoint) or `ENDPOINT=X`, e.g. `create=5`."""
    endpoint, _, value = spec.rpartition("=")
    if endpoint and endpoint not in ("create", "create_batch", "add_audio"):
        raise ValueError(f"bad price multiplier {spec!r}: the endpoint is create, create_batch or add_audio")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"bad price multiplier {spec!r}: expected a number, or ENDPOINT=NUMBER") from None
    if not 0 <= number <= 1000:
        raise ValueError(f"bad price multiplier {spec!r}: expected 0 to 1000")
    return endpoint or None, number


def uploads_folder(state_file: Path) -> Path:
    """Where a sandbox with this state file keeps uploaded files."""
    return state_file.parent / "sandbox-uploads"


class SandboxState:
    """Jobs, tokens, uploads, faults and statistics, behind one lock."""

    def __init__(self, config: SandboxConfig, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.clock = clock
        self.lock = threading.RLock()
        self.jobs: dict[str, dict[str, Any]] = {}
        # The balance in constant time: every charge summed as it is made, and the few jobs that will
        # fail (refunded once they have) kept apart.
        self.charged = 0
        self.failing: dict[str, int] = {}
        self.tokens: set[str] = set()
        self.uploads: dict[str, bytes] = {}
        self.faults: list[Fault] = list(config.faults)
        self.fail_next = 0
        self.base_url = ""
        self.reset_stats()
        self._load()
        for job in self.jobs.values():
            self.count_charge(job)

    # ------------------------------------------------------------ persistence

    def _load(self) -> None:
        path = self.config.state_file
        if not path:
            return
        try:
            saved = json.loads(path.read_text()) if path.exists() else {}
            self.jobs = dict(saved.get("jobs", {}))
            self.tokens = set(saved.get("tokens", []))
        except (OSError, ValueError, AttributeError):
            self.jobs, self.tokens = {}, set()  # a broken state file is a fresh sandbox
        try:  # jobs created since the last snapshot, one JSON line each
            for line in self._log_path().read_text().splitlines():
                try:
                    job = json.loads(line)
                    self.jobs[job["_id"]] = job
                except (ValueError, KeyError, TypeError):
                    continue  # a line cut by a kill: that job's answer never left either
        except OSError:
            pass

    def _log_path(self) -> Path:
        assert self.config.state_file is not None
        return self.config.state_file.with_suffix(".log")

    def save(self) -> None:
        """A full snapshot (rare: deletes, tokens, callbacks); it absorbs the log of new jobs."""
        path = self.config.state_file
        if not path:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{threading.get_ident()}.tmp")
        tmp.write_text(json.dumps({"jobs": self.jobs, "tokens": sorted(self.tokens)}))
        tmp.replace(path)
        self._log_path().unlink(missing_ok=True)

    def save_job(self, job: dict[str, Any]) -> None:
        """A new job: one appended line, not a rewrite of every job (the sandbox must not distort timings)."""
        if not self.config.state_file:
            return
        self.config.state_file.parent.mkdir(parents=True, exist_ok=True)
        with self._log_path().open("a") as log:
            log.write(json.dumps(job) + "\n")

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
                    if fault.skip > 0:
                        fault.skip -= 1
                        return None
                    if fault.times == 1:
                        self.faults.remove(fault)
                    elif fault.times > 1:
                        fault.times -= 1
                    return fault
        return None

    def take_fault(self, endpoint: str, after: bool) -> Fault | None:
        return self._take(lambda f: f.matches(endpoint) and f.after == after and f.kind not in ("fail_job", "partial"))

    def take_partial(self) -> bool:
        return self._take(lambda f: f.kind == "partial") is not None

    def take_fail_job(self) -> bool:
        return self._take(lambda f: f.kind == "fail_job") is not None

    # ------------------------------------------------------------ jobs

    def count_charge(self, job: dict[str, Any]) -> None:
        """A new job's charge (under the lock)."""
        charge = job.get("deduction_credit") or 0
        self.charged += charge
        if job.get("_sandbox", {}).get("fail"):
            self.failing[job["_id"]] = charge

    def credit(self) -> float:
        """The balance now: the starting credits less every charge, failed jobs refunded."""
        with self.lock:
            refunded = sum(charge for job_id, charge in self.failing.items()
                           if self.status_of(self.jobs[job_id]) == 4)
            spent = self.charged - refunded
        return round(self.config.balance - spent, 2)

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
            if job.get("model_name"):  # batch-endpoint jobs carry a poster (cover_url, seen in a public client)
                shown["cover_url"] = f"{self.base_url}/_sandbox/covers/{job['_id']}.png"
        elif status == 4:  # seen in public clients as failed_reason (and as msg): the sandbox sends both
            shown["failed_reason"] = shown["msg"] = FAILED_REASON
        return shown
