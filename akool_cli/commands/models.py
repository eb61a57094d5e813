"""akool models and akool balance: what the account can generate with, and what it has left."""

from __future__ import annotations

from typing import Annotated

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, JsonOption, ListingJsonOption

models_app = typer.Typer()
balance_app = typer.Typer()


@models_app.command("models")
@guarded
def models_command(
    ctx: typer.Context,
    refresh: Annotated[bool, typer.Option("--refresh", help="Bypass the local cache.")] = False,
    fmt: FormatOption = None,
    json_out: ListingJsonOption = False,
) -> None:
    """List the image-to-video models for create --model: resolutions with credits, lengths, audio."""
    from akool_cli.options import resolve_format
    from akool_cli.output.views import models_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    state.renderer.show(models_view(state.models(refresh=refresh)), form)


@balance_app.command("balance")
@guarded
def balance_command(ctx: typer.Context, fmt: FormatOption = None, json_out: JsonOption = False) -> None:
    """Show the account's credit balance."""
    from akool_cli.options import NO_IDS, resolve_format
    from akool_cli.output.writers import record_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS)
    credit = state.client().balance()
    state.renderer.show(record_view({"credit": credit}, text=f"{credit:g} credits ({state.target_label})"), form)
