"""akool batch: many videos from a CSV or JSONL manifest, journaled, resumable, reported."""

from __future__ import annotations

from typing import Annotated, Any, List, Optional

import typer

from akool_cli.app import guarded
from akool_cli.completion import complete_effect, complete_model, complete_resolution
from akool_cli.context import App
from akool_cli.options import FORMATS, NO_IDS, FormatOption, JsonOption, ListingJsonOption, resolve_format

batch_app = typer.Typer(name="batch", help="Many videos from a CSV or JSONL manifest: run, resume, status, list, report.",
                        no_args_is_help=True)

RunArg = Annotated[str, typer.Argument(metavar="RUN", help="A run id (see: akool batch list).")]


def _journal(state: App) -> Any:
    from akool_cli.store.journal import Journal

    return Journal(state.history(), state.runtime.clock)


def _run_or_fail(state: App, journal: Any, run_id: str) -> dict:
    from akool_cli.core.errors import UsageError

    run = journal.run(run_id)
    if run is None:
        raise UsageError(f"no batch run '{run_id}'", hint="list them with: akool batch list")
    return run


@batch_app.command("run")
@guarded
def batch_run(
    ctx: typer.Context,
    manifest: Annotated[str, typer.Argument(metavar="FILE", help="A .csv or .jsonl manifest, or - for stdin.")],
    manifest_format: Annotated[Optional[str], typer.Option("--manifest-format", metavar="csv|jsonl", help="The manifest's format (needed for stdin).")] = None,
    effect: Annotated[Optional[str], typer.Option("--effect", "-e", metavar="NAME|CODE", autocompletion=complete_effect, help="Default effect for rows without one.")] = None,
    prompt: Annotated[Optional[str], typer.Option("--prompt", help="Default prompt.")] = None,
    negative_prompt: Annotated[Optional[str], typer.Option("--negative-prompt", help="Default negative prompt.")] = None,
    resolution: Annotated[Optional[str], typer.Option("--resolution", "-r", metavar="RES", autocompletion=complete_resolution, help="Default resolution.")] = None,
    length: Annotated[Optional[int], typer.Option("--length", "-l", metavar="SECONDS", help="Default length.")] = None,
    model: Annotated[Optional[str], typer.Option("--model", "-m", metavar="NAME", autocompletion=complete_model, help="Default model (batch endpoint).")] = None,
    count: Annotated[Optional[int], typer.Option("--count", "-n", metavar="N", help="Default variants per row (with a model).")] = None,
    ai_audio: Annotated[bool, typer.Option("--ai-audio", help="Default: let the service generate audio.")] = False,
    generate_audio: Annotated[bool, typer.Option("--generate-audio", help="Default: let the model generate audio.")] = False,
    webhook: Annotated[Optional[str], typer.Option("--webhook", metavar="URL", help="Default webhook URL.")] = None,
    output: Annotated[Optional[str], typer.Option("--output", "-o", metavar="TEMPLATE|DIR", help="Where to save each video, e.g. 'out/{key}-{index}.mp4' (rows may have their own).")] = None,
    sidecar: Annotated[bool, typer.Option("--sidecar", help="Write NAME.json beside each video: source, settings, credits, job id.")] = False,
    output_anywhere: Annotated[bool, typer.Option("--output-anywhere", help="Let rows' output cells name any path (absolute, '..'); by default they stay under -o (or the working folder).")] = False,
    shard: Annotated[Optional[str], typer.Option("--shard", metavar="K/N", help="Take only this deterministic share of the rows (CI matrices).")] = None,
    concurrency: Annotated[Optional[int], typer.Option("--concurrency", "-c", min=1, max=16, help="Creates at once (default: config concurrency).")] = None,
    downloads: Annotated[int, typer.Option("--downloads", min=1, max=16, help="Downloads at once.")] = 4,
    max_credits: Annotated[Optional[int], typer.Option("--max-credits", metavar="N", min=0, help="Spend at most N credits on this run (kept with the run: resume holds it too).")] = None,
    accept_price_change: Annotated[bool, typer.Option("--accept-price-change", help="Go on when a job costs more than the high estimate.")] = False,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once every row is submitted (follow later with resume).")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", metavar="SECONDS", min=1, help="Give up waiting after this long (the jobs go on).")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files instead of adding a suffix.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before spending credits.")] = False,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Check every row and print the estimate; send nothing.")] = False,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Create one video (or a model's variants) per manifest row; resumable without paying twice."""
    from akool_cli.api.models import BatchRequest
    from akool_cli.commands.steps import caps_for, check_uploads, observed
    from akool_cli.core.validation import check_timeout
    from akool_cli.flows import batch as flow
    from akool_cli.flows.manifest import in_shard, iter_manifest, open_manifest, parse_shard

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS if dry_run else FORMATS)
    check_timeout(timeout)
    if not no_wait:  # following the run: --timeout is its whole time (none: follow until every job ends)
        state.limit_time(timeout)
    share = parse_shard(shard)
    stream, fmt = open_manifest(manifest, manifest_format, state.runtime.stdin)
    problems: list[str] = []
    defaults = {k: v for k, v in dict(effect=effect, prompt=prompt, negative_prompt=negative_prompt,
                                      resolution=resolution, length=length, model=model, count=count,
                                      ai_audio=ai_audio, generate_audio=generate_audio, webhook=webhook).items()
                if v not in (None, False)}
    read = [0]

    def counted_rows() -> Any:
        for row in iter_manifest(stream, fmt, problems):
            read[0] += 1
            yield row

    with stream:
        rows = (r for r in counted_rows() if in_shard(r.key, share))
        if dry_run:  # streamed: a million rows in bounded memory
            counted, estimates, local = flow.dry_run_estimates(state.plan_defaults(), rows, defaults, output,
                                                               problems, anywhere=output_anywhere)
        else:  # each row becomes its submission as it is read: the manifest's own rows are never all held
            subs = flow.prepare(state.plan_defaults(), rows, defaults, output, problems, anywhere=output_anywhere)
    if not read[0]:  # an empty manifest is an error with or without --dry-run
        raise flow.ManifestError(problems + ["no rows"])
    if dry_run:
        check_uploads(state, local)
        _show_dry_run(state, counted, [observed(state, e) for e in estimates], form)
        return
    seen: dict[int, Any] = {}  # one priced estimate per shared plan, not one per row
    estimates = [seen.get(id(s.estimate)) or seen.setdefault(id(s.estimate), observed(state, s.estimated()))
                 for s in subs]
    journal = flow.Journal(state.history(), state.runtime.clock)
    run = flow.RunRef()

    def journal_run(priced: list) -> None:
        run.id = journal.new_run(manifest, state.profile, state.base_url,
                                 {"output": output, "sidecar": sidecar, "shard": shard, "max_credits": max_credits,
                                  "manifest_sha256": _digest(manifest)})
        journal.add_rows(run.id, ({"row": sub.row, "key": sub.key, "request": sub.request.to_body(),
                                   "endpoint": "batch" if isinstance(sub.request, BatchRequest) else "create",
                                   "source": sub.source, "output": sub.output, "estimate": e.low_each,
                                   "estimate_high": e.high_each, "price_key": e.key}
                                  for sub, e in zip(subs, priced)))
        state.renderer.info(f"run {run.id}: {len(subs)} row(s) journaled")
        state.resume_hint = f"the run is journaled; resume it with: {state.command('batch', 'resume', run.id)}"

    order = flow.row_order(state.deps(), journal, run, subs, estimates, title="akool batch run",
                           rows=[("Manifest", manifest), ("Rows", str(len(subs))),
                                 ("Videos", str(sum(e.count for e in estimates)))],
                           caps=caps_for(state, max_credits), workers=_workers(state, concurrency, share),
                           yes=yes, accept_price_change=accept_price_change, prepare=journal_run)
    _pay_rows(state, journal, run, order)
    if not no_wait:
        flow.follow(state.deps(), journal, run.id, timeout=timeout, downloads=downloads, sidecar=sidecar, force=force)
    _emit_run(state, journal, run.id, form)
    flow.finish(state.deps(), journal, run.id)


def _digest(manifest: str) -> str | None:
    """The manifest's content hash, so that shards of one manifest can be told from others (batch merge)."""
    from akool_cli.api.s3 import file_sha256  # the content hash uploads are named by, too

    if manifest == "-":
        return None
    try:
        return file_sha256(manifest)
    except OSError:
        return None


def _workers(state: App, concurrency: int | None, share: tuple[int, int] | None) -> int:
    """--concurrency is the account's ceiling: a shard K/N takes its part of it (flows.shards)."""
    from akool_cli.flows.shards import shard_concurrency

    ceiling = concurrency or int(state.setting("concurrency"))
    state.concurrency_ceiling = ceiling  # held across every machine when the ledger is shared
    mine = shard_concurrency(ceiling, share)
    if share is not None:
        state.renderer.info(f"shard {share[0]}/{share[1]}: {mine} request(s) at a time, this shard's part of "
                            f"--concurrency {ceiling}" + (f" (with {share[1]} shards, {share[1]} in all: more "
                                                          "than the ceiling, unless a shared ledger.url holds it)"
                                                          if share[1] > ceiling else ""))
    return mine


def _show_dry_run(state: App, counted: int, estimates: list, form: str) -> None:
    from akool_cli.flows.pay import combined
    from akool_cli.output.writers import record_view

    summary = combined(estimates) if estimates else None
    videos = sum(e.count for e in estimates)
    text = (f"{counted} row(s), {videos} video(s): "
            + (f"{summary.describe()} ({summary.sources})" if summary else "nothing to send")
            + f"; target: {state.target_label}; dry run, nothing was sent.")
    state.renderer.show(record_view({"rows": counted, "videos": videos,
                                     "estimate": summary.to_dict() if summary else None,
                                     "target": state.target_label, "sent": False}, text=text), form)


def _pay_rows(state: App, journal: Any, run: Any, order: Any) -> None:
    """Through the one gate; the rows' states settled whatever happens, then its error (if any)."""
    from akool_cli.commands.steps import paid
    from akool_cli.flows import batch as flow

    def settle(result: Any) -> None:
        if run.id:
            flow.settle_submission(journal, run.id, result.report)

    # The run's id exists once it is journaled (after the confirmation): the hint is built then.
    paid(state, order, output=None, after=settle,
         go_on=lambda: state.command("batch", "resume", run.id, "--accept-price-change"),
         follow=lambda: state.command("batch", "status", run.id, "--watch"))


@batch_app.command("resume")
@guarded
def batch_resume(
    ctx: typer.Context,
    run_id: RunArg,
    resend_uncertain: Annotated[bool, typer.Option("--resend-uncertain", help="Also resend rows whose create may have reached the service: may pay twice.")] = False,
    concurrency: Annotated[Optional[int], typer.Option("--concurrency", "-c", min=1, max=16, help="Creates at once.")] = None,
    downloads: Annotated[int, typer.Option("--downloads", min=1, max=16, help="Downloads at once.")] = 4,
    no_wait: Annotated[bool, typer.Option("--no-wait", help="Return once every row is submitted.")] = False,
    timeout: Annotated[Optional[float], typer.Option("--timeout", metavar="SECONDS", min=1, help="Give up waiting after this long.")] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files instead of adding a suffix.")] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask before spending credits.")] = False,
    max_credits: Annotated[Optional[int], typer.Option("--max-credits", metavar="N", min=0, help="The run's budget (default: the one it was started with), counting what it was already charged.")] = None,
    fmt: FormatOption = None,
    accept_price_change: Annotated[bool, typer.Option("--accept-price-change", help="Go on when a job costs more than the high estimate.")] = False,
    json_out: JsonOption = False,
) -> None:
    """Submit only the rows never sent, then follow and save the rest; uncertain rows are never resent unasked."""
    import json

    from akool_cli.commands.steps import caps_for
    from akool_cli.flows import batch as flow
    from akool_cli.pricing.prices import row_estimate

    state: App = ctx.obj
    if not no_wait:
        state.limit_time(timeout)
    form = resolve_format(fmt, json_out)
    journal = _journal(state)
    run = _run_or_fail(state, journal, run_id)
    settings = json.loads(run["settings"] or "{}")
    uncertain = journal.settle_interrupted(run_id)
    for jrow in uncertain:
        state.renderer.warn(f"row {jrow.row} ({jrow.key}) is uncertain: its create may have reached the service "
                            + ("; resending it (--resend-uncertain, may pay twice)" if resend_uncertain
                               else "; not resent (pass --resend-uncertain to resend: may pay twice)"))
    todo = journal.rows(run_id, ["pending"] + (["uncertain"] if resend_uncertain else []))
    if todo:
        subs = flow.submissions_for(todo)
        estimates = [row_estimate(r.price_key, r.estimate, r.estimate_high, int(r.request.get("count", 1) or 1))
                     for r in todo]
        # The run's budget holds across resumes: what the run was charged so far counts against it.
        budget = max_credits if max_credits is not None else settings.get("max_credits")
        order = flow.row_order(state.deps(), journal, flow.RunRef(run_id), subs, estimates, title="akool batch resume",
                               rows=[("Run", run_id), ("Rows to send", str(len(todo)))],
                               caps=caps_for(state, budget), workers=_workers(state, concurrency, None),
                               yes=yes, accept_price_change=accept_price_change,
                               spent_before=journal.charged(run_id) if budget is not None else 0)
        state.resume_hint = f"the run is journaled; resume it with: {state.command('batch', 'resume', run_id)}"
        _pay_rows(state, journal, flow.RunRef(run_id), order)
    if not no_wait:
        flow.follow(state.deps(), journal, run_id, timeout=timeout, downloads=downloads,
                    sidecar=bool(settings.get("sidecar")), force=force)
    _emit_run(state, journal, run_id, form)
    flow.finish(state.deps(), journal, run_id)


def _emit_run(state: App, journal: Any, run_id: str, form: str) -> None:
    """The run id for people (RUN=$(akool batch run ...)); the run and its counts for machines."""
    from akool_cli.output.writers import record_view

    state.renderer.show(record_view({"run": run_id, "counts": journal.counts(run_id)}, text=run_id, id_key="run"), form)


@batch_app.command("status")
@guarded
def batch_status(
    ctx: typer.Context,
    run_id: RunArg,
    watch: Annotated[bool, typer.Option("--watch", help="Follow the run's jobs until every row is final (no downloads).")] = False,
    fmt: FormatOption = None,
    json_out: ListingJsonOption = False,
) -> None:
    """Counts by state and a table of the rows."""
    from akool_cli.flows import batch as flow
    from akool_cli.options import resolve_format
    from akool_cli.output.views import batch_rows_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    journal = _journal(state)
    _run_or_fail(state, journal, run_id)
    if watch:
        state.limit_time(None)  # follows the run until every row is final
        flow.watch(state.deps(), journal, run_id)
    counts = journal.counts(run_id)
    state.renderer.info(f"run {run_id}: " + ", ".join(f"{n} {s}" for s, n in sorted(counts.items())))
    state.renderer.show(batch_rows_view(journal.report(run_id)), form)


@batch_app.command("export")
@guarded
def batch_export(
    ctx: typer.Context,
    run_id: RunArg,
    output: Annotated[str, typer.Option("--output", "-o", metavar="FILE", help="Where to write the run (e.g. shard-1.akool).")],
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Write a run's journal, jobs and charges to one portable file (for batch merge on another machine)."""
    from pathlib import Path

    from akool_cli import __version__
    from akool_cli.flows.shards import export_run
    from akool_cli.output.writers import record_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS, default="")
    journal = _journal(state)
    _run_or_fail(state, journal, run_id)
    target = Path(output).expanduser()
    try:
        result = export_run(state.history(), journal, run_id, target, tool=__version__)
    except OSError as error:
        from akool_cli.core.errors import AkoolError

        raise AkoolError(f"could not write {target}: {error.strerror or error}", hint="choose a folder you can write") from None
    state.renderer.info(f"wrote {target}: run {run_id}, {result['rows']} row(s), {result['jobs']} job(s)")
    if form:
        state.renderer.show(record_view(result), form)


@batch_app.command("merge")
@guarded
def batch_merge(
    ctx: typer.Context,
    files: Annotated[List[str], typer.Argument(metavar="FILE...", help="Files written by batch export on each shard.")],
    name: Annotated[Optional[str], typer.Option("--as", metavar="NAME", help="The merged run's id (default: a new one).")] = None,
    fmt: FormatOption = None,
    json_out: JsonOption = False,
) -> None:
    """Build one run from shard exports: rows checked to partition one manifest, a row paid twice reported."""
    from dataclasses import asdict

    from akool_cli.flows.shards import merge, report_problems
    from akool_cli.output.writers import record_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS, default="")
    merged = merge(state.history(), _journal(state), files, name=name)
    state.renderer.info(f"run {merged.run_id}: {merged.rows} row(s), {merged.jobs} job(s) from {len(files)} file(s)")
    if merged.missing_shards:
        state.renderer.warn(f"shard(s) {', '.join(map(str, merged.missing_shards))} missing: the run is partial; "
                            "merge again with their files")
    for where in merged.outside[:20]:
        state.renderer.warn(f"{where} does not belong to its shard (another split of the manifest?)")
    state.renderer.show(record_view(asdict(merged), text=merged.run_id) if not form else record_view(asdict(merged)),
                        form or "table")
    report_problems(merged)


@batch_app.command("list")
@guarded
def batch_list(ctx: typer.Context, fmt: FormatOption = None, json_out: ListingJsonOption = False) -> None:
    """Every batch run of this machine, newest first, with its counts."""
    from akool_cli.options import resolve_format
    from akool_cli.output.views import batch_runs_view

    state: App = ctx.obj
    state.renderer.show(batch_runs_view(_journal(state).runs()), resolve_format(fmt, json_out))


@batch_app.command("report")
@guarded
def batch_report(ctx: typer.Context, run_id: RunArg, fmt: FormatOption = None,
                 json_out: ListingJsonOption = False) -> None:
    """One line per row: row, key, ids, status, credits estimated and charged, path, error (--format csv)."""
    from akool_cli.options import resolve_format
    from akool_cli.output.views import batch_rows_view

    state: App = ctx.obj
    journal = _journal(state)
    _run_or_fail(state, journal, run_id)
    state.renderer.show(batch_rows_view(journal.report(run_id)), resolve_format(fmt, json_out, default="csv"))
