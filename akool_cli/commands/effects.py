"""akool effects: the effect list."""

from __future__ import annotations

from typing import Annotated

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import FormatOption, ListingJsonOption

command_app = typer.Typer()


@command_app.command("effects")
@guarded
def effects_command(
    ctx: typer.Context,
    refresh: Annotated[bool, typer.Option("--refresh", help="Bypass the local cache.")] = False,
    fmt: FormatOption = None,
    json_out: ListingJsonOption = False,
) -> None:
    """List the effects you can pass to create --effect (cached locally)."""
    from akool_cli.options import resolve_format
    from akool_cli.output.views import effects_view

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    state.renderer.show(effects_view(state.effects(refresh=refresh)), form)
