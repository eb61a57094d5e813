"""akool ledger status|migrate|import: the shared ledger on PostgreSQL (ledger.url)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, JsonOption

if TYPE_CHECKING:
    from akool_cli.store.history import History

ledger_app = typer.Typer(no_args_is_help=True,
                         help="The shared ledger (ledger.url, PostgreSQL): status, migrate, import.")


def _ledger(state: App) -> "tuple[str, History]":
    from akool_cli.core.errors import UsageError
    from akool_cli.store.history import History

    url = state.setting("ledger.url")
    if not url:
        raise UsageError("no shared ledger is configured",
                         hint="akool config set ledger.url postgresql://USER@HOST/DB (password in PGPASSWORD)")
    return url, History(state.paths.history_file, state.runtime.clock, url=url)


@ledger_app.command("status")
@guarded
def ledger_status(ctx: typer.Context, fmt: FormatOption = None, json_out: JsonOption = False) -> None:
    """Where the ledger is, its schema version, what it holds, and the account's requests in flight."""
    from akool_cli.options import NO_IDS, resolve_format
    from akool_cli.output.writers import record_view
    from akool_cli.store.migrations import current_version

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS)
    _, history = _ledger(state)
    facts = history.ledger_facts()
    record = {"ledger": str(history.where), "schema": facts["schema"],
              "schema_expected": current_version(), **{k: v for k, v in facts.items() if k != "schema"}}
    state.renderer.show(record_view(record, title="shared ledger"), form)


@ledger_app.command("migrate")
@guarded
def ledger_migrate(ctx: typer.Context, fmt: FormatOption = None, json_out: JsonOption = False) -> None:
    """Bring the ledger's schema up to date (each migration once, under a lock; safe from every machine)."""
    from akool_cli.options import NO_IDS, resolve_format
    from akool_cli.output.writers import record_view
    from akool_cli.store.migrations import current_version

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS, default="")
    _, history = _ledger(state)
    history.prove_writable()  # opening migrates it
    state.renderer.info(f"ledger {history.where} is at schema version {current_version()}")
    if form:
        state.renderer.show(record_view({"ledger": str(history.where), "schema": current_version()}), form)


@ledger_app.command("import")
@guarded
def ledger_import(ctx: typer.Context, fmt: FormatOption = None, json_out: JsonOption = False) -> None:
    """Copy this machine's SQLite history and batch runs into the ledger (again: nothing is doubled)."""
    from akool_cli.options import NO_IDS, resolve_format
    from akool_cli.output.writers import record_view
    from akool_cli.store.history import History
    from akool_cli.store.transfer import copy_store

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS, default="")
    _, ledger = _ledger(state)
    local_file = state.paths.history_file
    if not local_file.exists():
        state.renderer.info(f"no local history at {local_file}: nothing to import")
        counts = {"jobs": 0, "jobs_new": 0, "runs": 0, "rows": 0}
    else:
        counts = copy_store(History(local_file, state.runtime.clock), ledger)
        state.renderer.info(f"imported {counts['jobs']} job(s) ({counts['jobs_new']} new), {counts['runs']} run(s), "
                            f"{counts['rows']} row(s) into {ledger.where}")
    if form:
        state.renderer.show(record_view(counts), form)
