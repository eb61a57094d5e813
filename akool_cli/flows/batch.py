"""`akool batch`: a manifest's rows planned, journaled, submitted as answered, followed and saved.

Order, as for create: check every row locally (all problems at once) -> prove the history ->
journal the run -> uploads -> one estimate, budget and balance -> one confirmation -> submit (each
row marked `sending` before its request leaves, recorded the moment it is answered) -> poll every
job together, one request a tick (in chunks) -> save each video as soon as it completes.
"""

from __future__ import annotations

import json
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, Any

from akool_cli.api.models import BatchRequest, CreateRequest, Job, JobStatus, answer_jobs
from akool_cli.api.uploads import LocalFile, check_image
from akool_cli.core.errors import AkoolError, OutcomeUnknownError, PartialError, TransportError, WaitTimeoutError
from akool_cli.flows.manifest import ManifestError, ManifestRow
from akool_cli.flows.submit import Submission
from akool_cli.pricing.plan import CreateOptions, Plan, placeholder_path, plan_create
from akool_cli.pricing.prices import Estimate
from akool_cli.store.journal import Journal, JournalRow

if TYPE_CHECKING:
    from akool_cli.context import App
    from akool_cli.flows.pay import PayOrder
    from akool_cli.flows.submit import SubmitReport

RESULTS_CHUNK = 100  # ids per resultsByIds request


@dataclass
class PreparedRow:
    row: int
    key: str
    source: str
    image: LocalFile | str
    plan: Plan
    output: str | None


def prepare(state: "App", rows: list[ManifestRow], defaults: dict[str, Any], output: str | None,
            problems: list[str] | None = None) -> list[PreparedRow]:
    """Plan every row; every problem of every row is reported at once, before anything is sent."""
    from akool_cli.flows.naming import check_template

    plan_defaults = state.plan_defaults()
    prepared: list[PreparedRow] = []
    problems = problems if problems is not None else []
    for mrow in rows:
        if mrow.values.get("_invalid"):
            continue  # its cells were already reported
        values = {**defaults, **{k: v for k, v in mrow.values.items() if k not in ("image", "output", "key")}}
        try:
            options = CreateOptions(**values)
            plan = plan_create(options, plan_defaults)
            image = check_image(str(mrow.values.get("image", "")))
            row_output = mrow.values.get("output") or output
            if row_output and "{" in row_output:
                check_template(row_output)
            prepared.append(PreparedRow(mrow.row, mrow.key, str(mrow.values["image"]), image, plan, row_output))
        except AkoolError as error:
            problems.append(f"row {mrow.row}: {error.message}")
    if problems:
        raise ManifestError(sorted(problems, key=lambda p: int(p.split()[1].rstrip(",:")) if p.startswith("row ")
                                   and p.split()[1].rstrip(",:").isdigit() else 0))
    return prepared


def _request_from_body(endpoint: str, body: dict[str, Any]) -> CreateRequest | BatchRequest:
    return BatchRequest(**body) if endpoint == "batch" else CreateRequest(**body)


def submissions_for(rows: list[JournalRow]) -> list[Submission]:
    subs = []
    for jrow in rows:
        request = _request_from_body(jrow.endpoint, jrow.request)
        image = None
        if placeholder_path(request.image_url) is not None and jrow.source:
            checked = check_image(jrow.source)
            image = checked if isinstance(checked, LocalFile) else None
        subs.append(Submission(jrow.source or "", request, image, row=jrow.row, key=jrow.key))
    return subs


def upload_rows(uploader: Any, journal: Journal, run: "RunRef", subs: list[Submission]) -> None:
    """Every upload before the first create; each uploaded URL written to the journal (a resume reuses it)."""
    cache: dict[str, str] = {}
    for sub in subs:
        request = sub.request
        files = []
        if sub.image is not None:
            files.append(("image_url", sub.image))
        for attr in ("audio_url", "last_image_url"):
            path = placeholder_path(getattr(request, attr, None))
            if path is not None:
                from akool_cli.api.uploads import check_audio

                checked = check_audio(path) if attr == "audio_url" else check_image(path)
                if isinstance(checked, LocalFile):
                    files.append((attr, checked))
        for attr, file in files:
            key = str(file.path)
            if key not in cache:
                cache[key] = uploader.upload(file)
            setattr(request, attr, cache[key])
        if files:
            journal.set_request(run.id, sub.row or 0, request.to_body())
            sub.image = None


@dataclass
class RunRef:
    """The run a paid order belongs to: a new run is journaled only once the spend is confirmed."""

    id: str = ""


def local_files(subs: list[Submission]) -> list[LocalFile]:
    """What must be uploaded before the first create: images, and files named in the requests."""
    files: list[LocalFile] = [sub.image for sub in subs if sub.image is not None]
    for sub in subs:
        for attr in ("audio_url", "last_image_url"):
            path = placeholder_path(getattr(sub.request, attr, None))
            if path is not None:
                files.append(LocalFile(Path(path), attr, 0))  # only "needs an uploader": checked when uploaded
    return files


def row_order(state: "App", journal: Journal, run: RunRef, subs: list[Submission], estimates: list[Estimate],
              **order: Any) -> "PayOrder":
    """A batch's paid order: each row marked `sending` by its worker just before its request leaves,
    and recorded (history and journal, one transaction) by the worker that got the answer."""
    from akool_cli.flows.pay import PayOrder
    from akool_cli.store.history import HistoryEntry, entry_for_job

    client = state.client()
    history = state.history()
    by_request = {id(sub.request): (sub, est) for sub, est in zip(subs, estimates)}
    recorded: set[str] = set()

    def entry(sub: Submission, job: Job, est: Estimate) -> HistoryEntry:
        return entry_for_job(job, kind="create", base_url=state.base_url, profile=state.profile,
                             now=state.runtime.clock(), source=sub.source,
                             video_length=getattr(sub.request, "video_length", None),
                             estimate=est.low_each, estimate_high=est.high_each, request=sub.request.to_body(),
                             model=getattr(sub.request, "model_name", None), price_key=est.key)

    def send(request: Any) -> Any:
        """In the worker thread: `sending` committed, the paid request, then the jobs recorded at once."""
        sub, est = by_request[id(request)]
        journal.mark_sending(run.id, sub.row or 0)
        answer = client.create_batch(request) if isinstance(request, BatchRequest) else client.create_video(request)
        for job in answer_jobs(answer):
            try:
                journal.record_job(run.id, sub.row or 0, entry(sub, job, est))
                recorded.add(job.id)
            except AkoolError:
                pass  # the main thread records it again, and reports it if it still cannot
        return answer

    def record(sub: Submission, job: Job, est: Estimate) -> None:
        if job.id not in recorded:  # the worker could not: try once more from here (raises if not)
            history.add(entry(sub, job, est))
            journal.add_job(run.id, sub.row or 0, job.id)

    return PayOrder(submissions=subs, estimates=estimates, send=send, record=record, local_files=local_files(subs),
                    upload=lambda uploader, todo: upload_rows(uploader, journal, run, todo),
                    grace=float(state.setting("timeout")) + 5, **order)


def settle_submission(journal: Journal, run_id: str, report: "SubmitReport") -> None:
    """After the submission: each row's state from what happened to its request."""
    made = {id(sub) for sub, _ in report.created}
    changes: list[tuple[int, str, str | None]] = []
    for sub, error in report.errors:
        if id(sub) in made:
            continue  # a batch answer's errorList next to jobs that exist: the row goes on
        if isinstance(error, OutcomeUnknownError):
            changes.append((sub.row or 0, "uncertain", error.message))
        elif isinstance(error, TransportError) and not error.sent:
            changes.append((sub.row or 0, "pending", error.message))
        else:
            changes.append((sub.row or 0, "failed", error.message))
    if changes:
        journal.set_states(run_id, changes)
    if report.stopped is not None:
        journal.settle_interrupted(run_id)


def _chunks(ids: list[str], size: int) -> list[list[str]]:
    return [ids[i:i + size] for i in range(0, len(ids), size)]


def fetch_jobs(client: Any, ids: list[str]) -> list[Job]:
    """Every job in one request a chunk of RESULTS_CHUNK ids."""
    return [job for chunk in _chunks(ids, RESULTS_CHUNK) for job in client.results(chunk)]


def settle(rows: list[JournalRow], latest: dict[str, Job]) -> list[tuple[int, str, str | None]]:
    """Rows still `submitted` whose jobs are all final become completed (any video) or failed."""
    changes = []
    for jrow in rows:
        jobs = [latest.get(i) for i in jrow.job_ids]
        if jrow.state == "submitted" and jobs and all(j is not None and j.is_final for j in jobs):
            ok = any(j.status == JobStatus.COMPLETED for j in jobs if j)
            jrow.state = "completed" if ok else "failed"
            changes.append((jrow.row, jrow.state, None if ok else "the job(s) failed"))
    return changes


def follow(state: "App", journal: Journal, run_id: str, *, timeout: float | None, downloads: int,
           sidecar: bool, force: bool) -> None:
    """Poll every job of the run together and save each video as soon as it completes."""
    from akool_cli.commands.steps import poll_policy
    from akool_cli.flows.fetch import download
    from akool_cli.flows.naming import NameClaims

    history = state.history()
    client = state.client()
    policy = poll_policy(state, timeout)
    rows = {r.row: r for r in journal.rows(run_id, ["submitted", "completed"])}
    job_row = {job_id: row for row, r in rows.items() for job_id in r.job_ids}
    latest: dict[str, Job] = {}
    saved: dict[str, Path] = {}
    started: dict[str, Future[int]] = {}
    targets: dict[str, Path] = {}
    claims = NameClaims()
    pool = ThreadPoolExecutor(max_workers=downloads)
    failures: list[str] = []

    def start_download(job: Job) -> None:
        """A completed job not saved yet (by this run or before) starts downloading now."""
        if job.status != JobStatus.COMPLETED or not job.video_url or job.id in saved or job.id in started \
                or _saved_before(history, job.id):
            return
        target = row_target(job, rows[job_row[job.id]], claims, force)
        if target is not None:
            targets[job.id] = target
            started[job.id] = pool.submit(download, client, job.video_url, target, force=force)

    def collect_downloads(block: bool) -> None:
        for job_id, future in list(started.items()):
            if not (block or future.done()):
                continue
            del started[job_id]
            jrow = rows[job_row[job_id]]
            try:
                future.result()
            except AkoolError as error:
                failures.append(f"{job_id} (row {jrow.row}): {error.message}; save it (free) with: "
                                + state.command("download", job_id, "-o", str(targets[job_id])))
                continue
            path = targets[job_id]
            saved[job_id] = path
            history.mark_downloaded(job_id, path.resolve())
            all_saved = all(i in saved or (latest.get(i) and latest[i].status == JobStatus.FAILED)
                            for i in jrow.job_ids)
            journal.add_path(run_id, jrow.row, path, all_saved)
            if sidecar:
                write_sidecar(path, latest[job_id], jrow, state)
            state.renderer.info(f"saved {path} (row {jrow.row})")

    pending = [job_id for r in rows.values() for job_id in r.job_ids]
    begun = state.runtime.monotonic()
    delay = policy.interval
    try:
        while True:
            answered = fetch_jobs(client, pending)
            history.update_from_jobs(answered)  # one transaction a tick
            latest.update({job.id: job for job in answered})
            changes = settle(list(rows.values()), latest)
            if changes:
                journal.set_states(run_id, changes)
            for job in answered:
                start_download(job)
            collect_downloads(block=False)
            pending = [i for i in pending if not (i in latest and latest[i].is_final)]
            if not pending:
                break
            _check_deadline(state, run_id, policy, state.runtime.monotonic() - begun, delay, pending)
            state.runtime.sleep(delay)
            delay = min(delay * policy.factor, policy.max_interval)
        collect_downloads(block=True)
    finally:
        pool.shutdown(wait=True, cancel_futures=False)
    if failures:
        for line in failures[1:]:
            state.renderer.error(AkoolError(f"download of {line}"))
        raise TransportError(f"download of {failures[0]}", hint=f"{len(failures)} video(s) were not saved; the jobs "
                             f"are paid for and in the history; or: {state.command('batch', 'resume', run_id)}")


def _check_deadline(state: "App", run_id: str, policy: Any, elapsed: float, delay: float, pending: list[str]) -> None:
    """--timeout: stop following before the next sleep would pass it (the jobs go on)."""
    if policy.timeout is not None and elapsed + delay > policy.timeout:
        error = WaitTimeoutError(f"gave up waiting after {elapsed:.0f} s; {len(pending)} job(s) still running",
                                 hint="the jobs go on; resume following them with: "
                                      + state.command("batch", "resume", run_id))
        error.pending = pending
        raise error


def row_target(job: Job, jrow: JournalRow, claims: Any, force: bool) -> Path | None:
    """Where a row's job is saved: its -o template (or folder) filled in; collisions get a suffix."""
    from akool_cli.flows.naming import render

    if not jrow.output:
        return None
    index = jrow.job_ids.index(job.id) + 1
    stem = PurePath(jrow.source.split("?")[0].rstrip("/")).stem if jrow.source else "video"
    values = {"stem": stem, "row": jrow.row, "key": jrow.key, "index": index, "id": job.id,
              "date": time.strftime("%Y-%m-%d"), "effect": job.effect_name or jrow.request.get("effect_code"),
              "model": jrow.request.get("model_name"), "resolution": jrow.request.get("resolution"),
              "length": jrow.request.get("video_length")}
    template = jrow.output if "{" in jrow.output else (
        jrow.output.rstrip("/") + "/{key}-{index}.mp4" if jrow.output.endswith("/") or Path(jrow.output).is_dir()
        else jrow.output)
    path = render(template, values)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path if force else claims.claim(path)


def _saved_before(history: Any, job_id: str) -> bool:
    entry = history.get(job_id)
    return bool(entry and entry.local_path)


def write_sidecar(path: Path, job: Job, jrow: JournalRow, state: "App") -> None:
    """NAME.json beside a saved video: where it came from and what it cost."""
    entry = state.history().get(job.id)
    data = {"source": jrow.source, "prompt": jrow.request.get("prompt"), "effect": job.effect_name or
            jrow.request.get("effect_code"), "model": jrow.request.get("model_name"), "row": jrow.row,
            "key": jrow.key, "credits_estimated": jrow.estimate, "credits_charged": job.deduction_credit,
            "job_id": job.id, "create_time": job.create_time, "profile": state.profile, "base_url": state.base_url,
            "local_path": str(path), "run_id": jrow.run_id, "expire_time": int(entry.expires_at * 1000) if entry else None}
    path.with_suffix(path.suffix + ".json").write_text(json.dumps(data, indent=2) + "\n")


def finish(state: "App", journal: Journal, run_id: str) -> None:
    """The run's exit code: uncertain rows are exit 9, failed rows exit 7 (partial)."""
    counts = journal.counts(run_id)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    state.renderer.info(f"run {run_id}: {summary}")
    if counts.get("uncertain") or counts.get("sending"):
        raise OutcomeUnknownError(f"{counts.get('uncertain', 0) + counts.get('sending', 0)} row(s) of run {run_id} may "
                                  "have created jobs without an answer; they were NOT sent again",
                                  hint=f"check with: {state.command('batch', 'status', run_id)}; resend them (may pay "
                                       f"twice) with: {state.command('batch', 'resume', run_id, '--resend-uncertain')}")
    if counts.get("failed") or counts.get("pending"):
        raise PartialError(f"{counts.get('failed', 0)} row(s) failed and {counts.get('pending', 0)} were not sent",
                           hint=f"see: {state.command('batch', 'report', run_id)}; resume with: "
                                + state.command("batch", "resume", run_id))


def report_rows(state: "App", journal: Journal, run_id: str) -> list[dict[str, Any]]:
    history = state.history()
    out = []
    for r in journal.rows(run_id):
        charged = [e.deducted for i in r.job_ids if (e := history.get(i)) and e.deducted is not None]
        variants = r.request.get("count", 1)
        out.append({"row": r.row, "key": r.key, "source": r.source, "status": r.state,
                    "job_ids": " ".join(r.job_ids), "credits_estimated": (r.estimate or 0) * variants,
                    "credits_charged": sum(charged) if charged else None, "path": " ".join(r.paths) or None,
                    "error": r.error})
    return out

