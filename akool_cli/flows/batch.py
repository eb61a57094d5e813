"""`akool batch`: a manifest's rows planned, journaled, submitted as answered, followed and saved.

Order, as for create: check every row locally (all problems at once) -> prove the history ->
journal the run -> uploads -> one estimate, budget and balance -> one confirmation -> submit (each
row marked `sending` before its request leaves, recorded the moment it is answered) -> poll every
job together, one request a tick (in chunks) -> save each video as soon as it completes.
"""

from __future__ import annotations

import json
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable

from akool_cli.api.models import BatchRequest, CreateRequest, Job, JobStatus, answer_jobs
from akool_cli.api.uploads import LocalFile, check_image
from akool_cli.core.errors import AkoolError, OutcomeUnknownError, PartialError, TransportError, WaitTimeoutError
from akool_cli.flows.manifest import ManifestError, ManifestRow
from akool_cli.flows.submit import Submission
from akool_cli.pricing.plan import CreateOptions, Plan, placeholder_path, plan_create
from akool_cli.pricing.prices import Estimate
from akool_cli.store.journal import Journal, JournalRow

if TYPE_CHECKING:
    from akool_cli.flows.deps import Deps
    from akool_cli.flows.pay import PayOrder
    from akool_cli.flows.submit import SubmitReport
    from akool_cli.pricing.plan import Defaults


def prepare(plan_defaults: "Defaults", rows: Iterable[ManifestRow], defaults: dict[str, Any], output: str | None,
            problems: list[str] | None = None, *, anywhere: bool = False) -> list[Submission]:
    """Plan every row into its submission (the row's request, with its planned estimate); every problem of
    every row is reported at once, before anything is sent. `rows` is read once, as it comes: a manifest's
    own rows are never all held, only what each row will send.
    A row's own `output` must stay under the run's -o folder (the working folder without -o) unless
    `anywhere` (--output-anywhere): a manifest from a pull request must not write elsewhere."""
    problems = problems if problems is not None else []
    planner = RowPlanner(plan_defaults, defaults, output, problems, anywhere)
    prepared = [p for p in map(planner.plan, rows) if p is not None]
    _raise_problems(problems)
    return prepared


def dry_run_estimates(plan_defaults: "Defaults", rows: Iterable[ManifestRow], defaults: dict[str, Any],
                      output: str | None, problems: list[str], *,
                      anywhere: bool = False) -> tuple[int, list[Estimate], int]:
    """What --dry-run prints, in bounded memory: each row planned and dropped, its estimate added to
    the one of its price (a million rows hold their keys and a handful of estimates), and how many
    rows name a local file (those need an uploader)."""
    planner = RowPlanner(plan_defaults, defaults, output, problems, anywhere)
    counts: dict[Estimate, int] = {}
    number = local = 0
    for row in rows:
        number += 1
        planned = planner.plan(row)
        if planned is not None:
            estimate = planned.estimated()
            one = replace(estimate, count=1)
            counts[one] = counts.get(one, 0) + estimate.count
            local += bool(local_files([planned]))
    _raise_problems(problems)
    return number, [estimate.with_count(count) for estimate, count in counts.items()], local


def _raise_problems(problems: list[str]) -> None:
    if problems:
        raise ManifestError(sorted(problems, key=lambda p: int(p.split()[1].rstrip(",:")) if p.startswith("row ")
                                   and p.split()[1].rstrip(",:").isdigit() else 0))


class RowPlanner:
    """One manifest row checked and priced (nothing sent); its problems go to the shared list."""

    def __init__(self, plan_defaults: "Defaults", defaults: dict[str, Any], output: str | None,
                 problems: list[str], anywhere: bool) -> None:
        from akool_cli.flows.naming import output_root

        self.plan_defaults, self.defaults, self.output = plan_defaults, defaults, output
        self.problems, self.anywhere = problems, anywhere
        self.root = output_root(output)
        # Rows that ask for the same thing (most of a big manifest: only the image differs) share one plan:
        # its checks run once and a 100,000-row run holds a handful of plans, not 100,000.
        self._plans: dict[Any, Plan] = {}

    def _plan(self, values: dict[str, Any]) -> Plan:
        try:
            key: Any = tuple(sorted(values.items()))
            hash(key)
        except TypeError:
            key = None
        plan = self._plans.get(key) if key is not None else None
        if plan is None:
            plan = plan_create(CreateOptions(**values), self.plan_defaults)
            if key is not None and len(self._plans) < 10_000:
                self._plans[key] = plan
        return plan

    def plan(self, mrow: ManifestRow) -> Submission | None:
        """The row's submission: its request (the shared plan's template with the row's image), its
        planned estimate, and where its video goes; None when the row has problems (reported)."""
        from akool_cli.flows.naming import check_template, confine
        from akool_cli.pricing.plan import placeholder

        if mrow.values.get("_invalid"):
            return None  # its cells were already reported
        values = {**self.defaults, **{k: v for k, v in mrow.values.items() if k not in ("image", "output", "key")}}
        try:
            plan = self._plan(values)
            source = str(mrow.values["image"])
            image = check_image(source)
            cell = mrow.values.get("output")
            if cell and not self.anywhere:
                confine(str(cell), self.root)
            row_output = cell or self.output
            if row_output and "{" in row_output:
                check_template(row_output)
        except AkoolError as error:
            self.problems.append(f"row {mrow.row}: {error.message}")
            return None
        local = None if isinstance(image, str) else image
        request = replace(plan.template, image_url=placeholder(local) if local is not None else str(image))
        return Submission(source, request, local, row=mrow.row, key=mrow.key, output=row_output,
                          estimate=plan.estimate)


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


def row_order(deps: "Deps", journal: Journal, run: RunRef, subs: list[Submission], estimates: list[Estimate],
              **order: Any) -> "PayOrder":
    """A batch's paid order: each row marked `sending` by its worker just before its request leaves,
    and recorded (history and journal, one transaction) by the worker that got the answer."""
    from akool_cli.flows.pay import PayOrder
    from akool_cli.store.history import HistoryEntry, entry_for_job

    client = deps.client()
    history = deps.history()
    recorded: set[str] = set()

    def entry(sub: Submission, job: Job, est: Estimate) -> HistoryEntry:
        return entry_for_job(job, kind="create", base_url=deps.base_url, profile=deps.profile,
                             now=deps.clock(), source=sub.source,
                             video_length=getattr(sub.request, "video_length", None),
                             estimate=est.low_each, estimate_high=est.high_each, request=sub.request.to_body(),
                             model=getattr(sub.request, "model_name", None), price_key=est.key)

    def send(sub: Submission) -> Any:
        """In the worker thread: `sending` committed, the paid request, then the jobs recorded at once."""
        journal.mark_sending(run.id, sub.row or 0)
        request = sub.request
        answer = client.create_batch(request) if isinstance(request, BatchRequest) else \
            client.create_video(request)  # type: ignore[arg-type]  # a batch row is a create or a model's batch
        for job in answer_jobs(answer):
            try:
                journal.record_job(run.id, sub.row or 0, entry(sub, job, sub.estimated()))
                recorded.add(job.id)
            except AkoolError:
                pass  # the main thread records it again, and reports it if it still cannot
        return answer

    def record(sub: Submission, job: Job, est: Estimate) -> None:
        if job.id not in recorded:  # the worker could not: try once more from here (raises if not)
            history.add(entry(sub, job, est))
            journal.add_job(run.id, sub.row or 0, job.id)
        recorded.discard(job.id)  # recorded either way: the set holds only answers not yet seen here

    return PayOrder(submissions=subs, estimates=estimates, send=send, record=record, local_files=local_files(subs),
                    upload=lambda uploader, todo: upload_rows(uploader, journal, run, todo),
                    grace=float(deps.setting("timeout")) + 5, keep_answers=False, **order)


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


def settle(rows: list[JournalRow], latest: dict[str, Job]) -> list[tuple[int, str, str | None]]:
    """Rows still `submitted` whose jobs are all final become completed (any video) or failed."""
    changes = []
    for jrow in rows:
        if jrow.state != "submitted" or not jrow.job_ids:
            continue  # settled already (a later tick skips it at once)
        jobs = [latest.get(i) for i in jrow.job_ids]
        if all(j is not None and j.is_final for j in jobs):
            ok = any(j.downloadable for j in jobs if j)
            jrow.state = "completed" if ok else "failed"
            reasons = "; ".join(dict.fromkeys(j.failure_reason for j in jobs if j and j.failure_reason))
            changes.append((jrow.row, jrow.state, None if ok else "the job(s) failed" + (f": {reasons}" if reasons
                                                                                         else "")))
    return changes


class RunSaver:
    """A run's downloads: each completed job starts saving at once (in a pool) and is journaled when saved."""

    def __init__(self, deps: "Deps", journal: Journal, run_id: str, rows: dict[int, JournalRow], *,
                 downloads: int, sidecar: bool, force: bool) -> None:
        from akool_cli.flows.naming import NameClaims

        self.deps, self.journal, self.run_id, self.rows = deps, journal, run_id, rows
        self.history = deps.history()
        self.client = deps.client()
        self.sidecar, self.force = sidecar, force
        self.job_row = {job_id: row for row, r in rows.items() for job_id in r.job_ids}
        self.latest: dict[str, Job] = {}
        self.saved: dict[str, Path] = {}
        self.refused: set[str] = set()  # no safe name for it: reported once, never counted as saved
        self.started: dict[str, Future[int]] = {}
        self.targets: dict[str, Path] = {}
        self.failures: list[str] = []
        self.claims = NameClaims()
        self.saves = any(r.output for r in rows.values())  # a run without -o saves nothing: no per-job look
        self.pool = ThreadPoolExecutor(max_workers=downloads)

    def start(self, job: Job) -> None:
        """A completed job not saved yet (by this run or before) starts downloading now."""
        from akool_cli.flows.fetch import download

        if not job.downloadable or job.id in self.saved or job.id in self.started or job.id in self.refused:
            return
        jrow = self.rows[self.job_row[job.id]]
        if not jrow.output:
            return  # the row saves nothing (no -o): not a history lookup per job per tick
        if _saved_before(self.history, job.id):
            return
        try:
            target = row_target(job, jrow, self.claims, self.force)
        except AkoolError as error:
            self.failures.append(f"{job.id}: {error.message}")
            self.refused.add(job.id)  # not retried on the next tick; the run ends with the error
            return
        if target is not None:
            self.targets[job.id] = target
            self.started[job.id] = self.pool.submit(download, self.client, job.video_url or "", target,
                                                    force=self.force)

    def collect(self, block: bool) -> None:
        for job_id, future in list(self.started.items()):
            if block or future.done():
                del self.started[job_id]
                self._finish(job_id, future)

    def _finish(self, job_id: str, future: "Future[int]") -> None:
        jrow = self.rows[self.job_row[job_id]]
        path = self.targets[job_id]
        try:
            future.result()
        except AkoolError as error:
            self.failures.append(f"{job_id} (row {jrow.row}): {error.message}; save it (free) with: "
                                 + self.deps.command("download", job_id, "-o", str(path)))
            return
        self.saved[job_id] = path
        self.history.mark_downloaded(job_id, path.resolve())
        all_saved = all(i in self.saved or (self.latest.get(i) and self.latest[i].status == JobStatus.FAILED)
                        for i in jrow.job_ids)
        self.journal.add_path(self.run_id, jrow.row, path, all_saved)
        if self.sidecar:
            write_sidecar(path, self.latest[job_id], jrow, self.deps)
        self.deps.events.info(f"saved {path} (row {jrow.row})")

    def tick(self, now_known: dict[str, Job], elapsed: float) -> None:
        """One poll's answer: settle the rows, start what can be saved, collect what is done."""
        self.latest.update(now_known)
        changes = settle(list(self.rows.values()), self.latest)
        if changes:
            self.journal.set_states(self.run_id, changes)
        if self.saves:
            for job in now_known.values():
                self.start(job)
        self.collect(block=False)


def follow(deps: "Deps", journal: Journal, run_id: str, *, timeout: float | None, downloads: int,
           sidecar: bool, force: bool) -> None:
    """Poll every job of the run together (the one poll loop, flows.wait) and save each video as soon
    as it completes: each tick settles the rows and starts the downloads it made possible."""
    from akool_cli.flows.wait import wait

    # Only rows that can still change: jobs not final yet, and completed ones still to be saved (asked
    # once, for a fresh video URL). A finished run sends nothing.
    rows = {r.row: r for r in journal.rows(run_id, ["submitted", "completed"])
            if r.state == "submitted" or (r.output and len(r.paths) < len(r.job_ids))}
    saver = RunSaver(deps, journal, run_id, rows, downloads=downloads, sidecar=sidecar, force=force)
    pending = [job_id for r in rows.values() for job_id in r.job_ids]
    try:
        if pending:
            _, gone = wait(deps, pending, timeout, fresh=True, on_tick=saver.tick, label=f"Run {run_id}")
            settle_gone(deps, journal, run_id, rows, set(gone))
        saver.collect(block=True)
    except WaitTimeoutError as error:
        error.hint = "the jobs go on; resume following them with: " + deps.command("batch", "resume", run_id)
        raise
    finally:
        saver.pool.shutdown(wait=True, cancel_futures=False)
    if saver.failures:
        for line in saver.failures[1:]:
            deps.events.error(AkoolError(f"download of {line}"))
        raise TransportError(f"download of {saver.failures[0]}", hint=f"{len(saver.failures)} video(s) were not "
                             f"saved; the jobs are paid for and in the history; or: "
                             f"{deps.command('batch', 'resume', run_id)}")


def settle_gone(deps: "Deps", journal: Journal, run_id: str, rows: dict[int, JournalRow], gone: set[str]) -> None:
    """Rows whose jobs the service no longer lists (deleted, or past the 7-day expiry): said once and
    marked failed with the reason, so no later resume polls them again. Nothing is ever resent."""
    if not gone:
        return
    changes: list[tuple[int, str, str | None]] = [(r.row, "failed", f"job(s) {' '.join(i for i in r.job_ids if i in gone)} not known to the service "
                "(deleted, or expired); nothing was resent") for r in rows.values()
               if r.state in ("submitted", "completed") and r.job_ids and all(i in gone for i in r.job_ids)]
    if changes:
        journal.set_states(run_id, changes)
        deps.events.warn(f"{len(changes)} row(s) of run {run_id}: their jobs are not known to the service "
                         "(deleted, or expired); marked failed, never resent")


def watch(deps: "Deps", journal: Journal, run_id: str) -> None:
    """Follow the run's submitted jobs until each is final (no downloads), saying the counts as they change."""
    from akool_cli.flows.wait import wait

    rows = journal.rows(run_id, ["submitted"])
    last: list[str] = [""]

    def tick(latest: dict[str, Job], elapsed: float) -> None:
        changes = settle(rows, latest)
        if changes:
            journal.set_states(run_id, changes)
        counts = journal.counts(run_id)
        line = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        if line != last[0]:
            deps.events.info(f"run {run_id}: {line}")
            last[0] = line

    ids = [i for r in rows for i in r.job_ids]
    if ids:
        _, gone = wait(deps, ids, None, on_tick=tick, label=f"Run {run_id}")
        settle_gone(deps, journal, run_id, {r.row: r for r in rows}, set(gone))


def row_target(job: Job, jrow: JournalRow, claims: Any, force: bool) -> Path | None:
    """Where a row's job is saved: its -o template (or folder) filled in; collisions get a suffix."""
    from akool_cli.core.errors import UsageError
    from akool_cli.flows.naming import place, template_values, within

    if not jrow.output:
        return None
    values = template_values(job.id, source=jrow.source, row=jrow.row, key=jrow.key,
                             index=jrow.job_ids.index(job.id) + 1, request=jrow.request, effect_name=job.effect_name)
    template = jrow.output if "{" in jrow.output else (
        jrow.output.rstrip("/") + "/{key}-{index}.mp4" if jrow.output.endswith("/") or Path(jrow.output).is_dir()
        else jrow.output)
    path = place(template, values, force=force, claims=claims)
    # The filled-in name stays in the template's own folder: a field (from a server or a manifest) never climbs.
    fixed = Path(template.split("{", 1)[0])
    home = (fixed if template.split("{", 1)[0].endswith("/") else fixed.parent) if "{" in template else path.parent
    if not within(path.parent, (Path.cwd() / home).resolve()):
        raise UsageError(f"row {jrow.row}: {path} is outside {home}", hint="check the row's output template")
    return path


def _saved_before(history: Any, job_id: str) -> bool:
    entry = history.get(job_id)
    return bool(entry and entry.local_path)


def write_sidecar(path: Path, job: Job, jrow: JournalRow, deps: "Deps") -> None:
    """NAME.json beside a saved video: where it came from and what it cost."""
    entry = deps.history().get(job.id)
    data = {"source": jrow.source, "prompt": jrow.request.get("prompt"), "effect": job.effect_name or
            jrow.request.get("effect_code"), "model": jrow.request.get("model_name"), "row": jrow.row,
            "key": jrow.key, "credits_estimated": jrow.estimate, "credits_charged": job.deduction_credit,
            "job_id": job.id, "create_time": job.create_time, "profile": deps.profile, "base_url": deps.base_url,
            "local_path": str(path), "run_id": jrow.run_id, "expire_time": int(entry.expires_at * 1000) if entry else None}
    path.with_suffix(path.suffix + ".json").write_text(json.dumps(data, indent=2) + "\n")


def finish(deps: "Deps", journal: Journal, run_id: str) -> None:
    """The run's exit code: uncertain rows are exit 9, failed rows exit 7 (partial)."""
    counts = journal.counts(run_id)
    summary = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
    deps.events.info(f"run {run_id}: {summary}")
    if counts.get("uncertain") or counts.get("sending"):
        raise OutcomeUnknownError(f"{counts.get('uncertain', 0) + counts.get('sending', 0)} row(s) of run {run_id} may "
                                  "have created jobs without an answer; they were NOT sent again",
                                  hint=f"check with: {deps.command('batch', 'status', run_id)}; resend them (may pay "
                                       f"twice) with: {deps.command('batch', 'resume', run_id, '--resend-uncertain')}")
    if counts.get("failed") or counts.get("pending"):
        raise PartialError(f"{counts.get('failed', 0)} row(s) failed and {counts.get('pending', 0)} were not sent",
                           hint=f"see: {deps.command('batch', 'report', run_id)}; resume with: "
                                + deps.command("batch", "resume", run_id))

