"""akool config: read and change settings of the profile."""

from __future__ import annotations

from typing import Annotated

import typer

from akool_cli.app import guarded
from akool_cli.context import App

config_app = typer.Typer(name="config", help="Show and change settings (per profile).", no_args_is_help=True)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print as JSON on stdout.")]


def _known(key: str) -> None:
    from akool_cli.config import SETTINGS
    from akool_cli.core.errors import UsageError

    if key not in SETTINGS:
        raise UsageError(f"unknown config key '{key}'", hint="valid keys: " + ", ".join(SETTINGS))


def _shown(value: object) -> str:
    return "-" if value is None else str(value)


@config_app.command("list")
@guarded
def config_list(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Every setting with its value and where the value came from."""
    state: App = ctx.obj
    settings = state.settings
    if json_out:
        state.renderer.json({k: {"value": s.value, "source": s.source} for k, s in settings.items()})
        return
    from rich.table import Table

    from akool_cli.config import SETTINGS

    table = Table(title=f"profile '{state.profile}' ({state.paths.config_file})", title_justify="left")
    for name in ("Key", "Value", "Source", "Meaning"):
        table.add_column(name, overflow="fold")
    for key, resolved in settings.items():
        table.add_row(key, _shown(resolved.value), resolved.source, SETTINGS[key].help)
    state.renderer.print(table)


@config_app.command("get")
@guarded
def config_get(ctx: typer.Context, key: Annotated[str, typer.Argument(help="Setting name.")], json_out: JsonFlag = False) -> None:
    """Print one setting's value."""
    state: App = ctx.obj
    _known(key)
    resolved = state.settings[key]
    if json_out:
        state.renderer.json({"key": key, "value": resolved.value, "source": resolved.source})
    else:
        state.renderer.line(_shown(resolved.value))


@config_app.command("set")
@guarded
def config_set(ctx: typer.Context, key: Annotated[str, typer.Argument(help="Setting name.")],
               value: Annotated[str, typer.Argument(help="New value.")], json_out: JsonFlag = False) -> None:
    """Change a setting of the profile."""
    from akool_cli.config import parse_setting

    state: App = ctx.obj
    parsed = parse_setting(key, value)
    state.config_store.set(state.profile, key, parsed)
    if json_out:
        state.renderer.json({"key": key, "value": parsed, "profile": state.profile})
    else:
        state.renderer.info(f"{key} = {parsed!r} (profile '{state.profile}')")


@config_app.command("unset")
@guarded
def config_unset(ctx: typer.Context, key: Annotated[str, typer.Argument(help="Setting name.")], json_out: JsonFlag = False) -> None:
    """Remove a setting from the profile, back to its default."""
    state: App = ctx.obj
    _known(key)
    removed = state.config_store.unset(state.profile, key)
    if json_out:
        state.renderer.json({"key": key, "removed": removed, "profile": state.profile})
    else:
        state.renderer.info(f"{key} unset (profile '{state.profile}')" if removed else f"{key} was not set")


@config_app.command("path")
@guarded
def config_path(ctx: typer.Context, json_out: JsonFlag = False) -> None:
    """Where the config, credentials, history and cache live."""
    state: App = ctx.obj
    paths = {"config": str(state.paths.config_file), "credentials": str(state.paths.credentials_file),
             "history": str(state.paths.history_file), "cache": str(state.paths.cache_dir)}
    if json_out:
        state.renderer.json(paths)
    else:
        state.renderer.key_values(list(paths.items()))
