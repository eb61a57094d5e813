"""akool effects: the effect list."""

from __future__ import annotations

from typing import Annotated

import typer

from akool_cli.app import app, guarded
from akool_cli.context import App


@app.command("effects", rich_help_panel="Videos")
@guarded
def effects_command(
    ctx: typer.Context,
    refresh: Annotated[bool, typer.Option("--refresh", help="Bypass the local cache.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the effects as JSON on stdout.")] = False,
) -> None:
    """List the effects you can pass to create --effect (cached locally)."""
    state: App = ctx.obj
    effects = state.effects(refresh=refresh)
    if json_out:
        state.renderer.json([effect.raw for effect in effects])
    else:
        state.renderer.effects_table(effects)
