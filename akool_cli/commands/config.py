"""akool config: read and change settings of the profile."""

from __future__ import annotations

from typing import Annotated

import typer

from akool_cli.app import guarded
from akool_cli.context import App
from akool_cli.options import NO_IDS, FormatOption, JsonOption, resolve_format
from akool_cli.output.writers import Column, View, record_view

config_app = typer.Typer(name="config", help="Show and change settings (per profile).", no_args_is_help=True)



def _known(key: str) -> None:
    from akool_cli.config import SETTINGS
    from akool_cli.core.errors import UsageError

    if key not in SETTINGS:
        raise UsageError(f"unknown config key '{key}'", hint="valid keys: " + ", ".join(SETTINGS))


SETTING_COLUMNS = [Column("key", "Key", 0, whole=True), Column("value", "Value", 0), Column("source", "Source", 1),
                   Column("meaning", "Meaning", 2)]


@config_app.command("list")
@guarded
def config_list(ctx: typer.Context, fmt: FormatOption = None, json_out: JsonOption = False) -> None:
    """Every setting with its value and where the value came from."""
    from akool_cli.config import SETTINGS, shown

    state: App = ctx.obj
    form = resolve_format(fmt, json_out)
    rows = [{"key": key, "value": shown(key, resolved.value), "source": resolved.source, "meaning": SETTINGS[key].help}
            for key, resolved in state.settings.items()]
    state.renderer.show(View(SETTING_COLUMNS, rows, id_key="key",
                             title=f"profile '{state.profile}' ({state.paths.config_file})"), form)


@config_app.command("get")
@guarded
def config_get(ctx: typer.Context, key: Annotated[str, typer.Argument(help="Setting name.")],
               fmt: FormatOption = None, json_out: JsonOption = False) -> None:
    """Print one setting's value (the bare value; --format for the value with its source)."""
    from akool_cli.config import shown

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS)
    _known(key)
    resolved = state.settings[key]
    value = shown(key, resolved.value)
    record = {"key": key, "value": value, "source": resolved.source}
    state.renderer.show(record_view(record, text="-" if value is None else str(value)), form)


@config_app.command("set")
@guarded
def config_set(ctx: typer.Context, key: Annotated[str, typer.Argument(help="Setting name.")],
               value: Annotated[str, typer.Argument(help="New value.")],
               fmt: FormatOption = None, json_out: JsonOption = False) -> None:
    """Change a setting of the profile."""
    from akool_cli.config import parse_setting, profile_for

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS, default="")
    parsed = parse_setting(key, value)
    profile = profile_for(key, state.profile)
    state.config_store.set(profile, key, parsed)
    state.renderer.info(f"{key} = {parsed!r} (profile '{profile}'"
                        + (": one for every profile)" if profile != state.profile else ")"))
    if key.startswith("upload.") and key not in ("upload.command", "upload.timeout"):
        _guide_s3(state, profile)
    if form:
        state.renderer.show(record_view({"key": key, "value": parsed, "profile": profile}), form)


def _guide_s3(state: App, profile: str) -> None:
    """After an s3 setting: say what is still missing, and check the bucket with one harmless call."""
    from akool_cli.context import App as Fresh
    from akool_cli.core.errors import AkoolError

    fresh = Fresh(state.runtime, profile_flag=profile)  # the settings just written
    if fresh.upload_backend != "s3":
        return
    uploader = fresh.s3_uploader()
    try:
        uploader.ready()
    except AkoolError as missing:
        state.renderer.info(f"next: {missing.message}; {missing.hint}")
        return
    try:
        uploader.check()
    except AkoolError as problem:
        state.renderer.warn(f"{problem.message}; {problem.hint}")
        return
    state.renderer.info(f"checked: {uploader.settings.where} is reachable with these credentials; "
                        "try it with: akool upload FILE")


@config_app.command("unset")
@guarded
def config_unset(ctx: typer.Context, key: Annotated[str, typer.Argument(help="Setting name.")],
                 fmt: FormatOption = None, json_out: JsonOption = False) -> None:
    """Remove a setting from the profile, back to its default."""
    from akool_cli.config import profile_for

    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS, default="")
    _known(key)
    profile = profile_for(key, state.profile)
    removed = state.config_store.unset(profile, key)
    state.renderer.info(f"{key} unset (profile '{profile}')" if removed else f"{key} was not set")
    if form:
        state.renderer.show(record_view({"key": key, "removed": removed, "profile": profile}), form)


@config_app.command("path")
@guarded
def config_path(ctx: typer.Context, fmt: FormatOption = None, json_out: JsonOption = False) -> None:
    """Where the config, credentials, history and cache live."""
    state: App = ctx.obj
    form = resolve_format(fmt, json_out, honoured=NO_IDS)
    paths = {"config": str(state.paths.config_file), "credentials": str(state.paths.credentials_file),
             "history": str(state.paths.history_file), "cache": str(state.paths.cache_dir)}
    state.renderer.show(record_view(paths), form)
