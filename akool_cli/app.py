"""The Typer application, its global options, and the guard that turns errors into exit codes."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Annotated, Any, Callable, Optional, TypeVar

import typer
from typer.core import TyperGroup

from akool_cli import __version__
from akool_cli.context import App, Runtime
from akool_cli.core.errors import AkoolError, Interrupted
from akool_cli.core.exit_codes import ExitCode
from akool_cli.core.text import clean
from akool_cli.output.errors import error_text, wants_json, wants_json_argv

F = TypeVar("F", bound=Callable[..., Any])

@dataclass(frozen=True)
class Entry:
    module: str  # under akool_cli.commands
    attribute: str  # the module's Typer
    panel: str  # the help panel it is listed in
    summary: str  # its one-line help (a test keeps it equal to the command's own)


# Every command, by name. Only the invoked command's module is imported and built, so `akool cost`
# does not pay for `akool webhook`'s imports; `akool --help` lists them from here without importing any.
COMMANDS: dict[str, Entry] = {
    "create": Entry("create", "command_app", "Videos",
                    "Create videos from images (one job per image). Shows the cost and asks first."),
    "status": Entry("status", "command_app", "Videos",
                    "Show the status of jobs (one request for all ids); --wait to follow them."),
    "effects": Entry("effects", "command_app", "Videos",
                     "List the effects you can pass to create --effect (cached locally)."),
    "add-audio": Entry("add_audio", "command_app", "Videos",
                       "Add audio to a finished video: 5 credits for a 5 s video, 10 for 10 s."),
    "delete": Entry("delete", "command_app", "Videos",
                    "Delete videos. Each id is reported: deleted, or refused with the server's reason."),
    "history": Entry("history", "command_app", "Videos",
                     "The local record of jobs: ids, cost, status, downloaded file, time left before expiry."),
    "download": Entry("download", "command_app", "Videos",
                      "Download completed videos; warns when their files are near or past the 7-day expiry."),
    "sync": Entry("sync", "command_app", "Videos",
                  "Refresh the history from the service; --save saves completed videos before they expire."),
    "batch": Entry("batch", "batch_app", "Videos",
                   "Many videos from a CSV or JSONL manifest: run, resume, status, list, report."),
    "gallery": Entry("gallery", "gallery_app", "Videos",
                     "A self-contained HTML page of videos: posters, filters, keep/reject marks and the commands for them."),
    "upload": Entry("upload", "upload_app", "Videos",
                    "Upload local files with the configured uploader and print their links (tests a configuration)."),
    "uploads": Entry("upload", "uploads_app", "Videos",
                     "What this tool uploaded (upload.backend s3): list, prune."),
    "webhook": Entry("webhook", "webhook_app", "Videos", "Receive and decrypt Akool's webhook callbacks."),
    "models": Entry("models", "models_app", "Videos",
                    "List the image-to-video models for create --model: resolutions with credits, lengths, audio."),
    "cost": Entry("cost", "command_app", "Credits",
                  "Estimate credits before spending them (no network, no account needed)."),
    "balance": Entry("models", "balance_app", "Credits", "Show the account's credit balance."),
    "auth": Entry("auth", "auth_app", "Setup", "Log in with an API key (or client id and secret), check, log out."),
    "config": Entry("config", "config_app", "Setup", "Show and change settings (per profile)."),
    "ledger": Entry("ledger", "ledger_app", "Setup",
                    "The shared ledger (ledger.url, PostgreSQL): status, migrate, import."),
    "sandbox": Entry("sandbox", "sandbox_app", "Setup",
                     "Serve a local emulator of the Akool API (no account, no credits). Ctrl-C stops it; "
                     "'akool sandbox stop' stops a background one."),
    "mcp": Entry("mcp", "mcp_app", "Setup",
                 "Serve akool to AI agents over stdio (MCP): plan_video prices, only execute_plan spends."),
    "completion": Entry("shell", "completion_app", "Setup",
                        'Print the shell completion script, e.g. eval "$(akool completion bash)".'),
    "man": Entry("shell", "man_app", "Setup", "Print the man page (roff): akool man | man -l -"),
}


def load_command(name: str) -> Any:
    import importlib

    from typer.main import get_command

    entry = COMMANDS[name]
    typer_app = getattr(importlib.import_module(f"akool_cli.commands.{entry.module}"), entry.attribute)
    # Completion ships as generated scripts (akool completion SHELL): no Typer --install-completion
    # on every subcommand (one use of it appended a line to ~/.bashrc).
    typer_app._add_completion = False
    command = get_command(typer_app)
    plain_help(command)
    command.name = name
    setattr(command, "rich_help_panel", entry.panel)  # Typer's own attribute on its commands
    tidy_help(command)
    return command


def plain_help(command: Any) -> None:
    """Click's own help layout for every subcommand, like the root help: Typer's Rich layout imports rich,
    markdown-it and pygments (about 80 ms, 3x `import typer`) just to print a page of text."""
    command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)


def tidy_help(command: Any) -> None:
    """Help says what a value is, not Python's type names: no `<str>`, `<int range> [1<=x<=16]`.

    Ranges become plain numbers checked by a callback with the same message Click gives (and NaN
    refused), and every value gets a metavar that reads as a word."""
    from typer._click import types
    from typer.core import TyperArgument

    class _Plain(types.StringParamType):
        def get_metavar(self, param: Any, ctx: Any) -> str:  # type: ignore[override]
            return ""

    for param in command.params:
        kind = param.type
        if isinstance(kind, types._NumberRangeBase):
            low, high = kind.min, kind.max
            param.type = types.INT if isinstance(kind, types.IntRange) else types.FLOAT
            param.callback = _range_check(param.callback, low, high)
            if param.metavar is None:
                param.metavar = "N" if param.type is types.INT else "NUMBER"
        elif isinstance(param, TyperArgument) and isinstance(kind, types.StringParamType):
            param.type = _Plain()
        elif param.metavar is None and not getattr(param, "is_flag", False):
            if isinstance(kind, types.StringParamType):
                param.metavar = "TEXT"
            elif isinstance(kind, types.IntParamType):
                param.metavar = "N"
            elif isinstance(kind, types.FloatParamType):
                param.metavar = "NUMBER"
        if isinstance(param, TyperArgument):
            # Typer writes a required IMAGE... as {IMAGE...}; the usage line reads as typed instead.
            shown = param.metavar or (param.name or "").upper()
            shown = shown if param.required or shown.startswith("[") else f"[{shown}]"
            setattr(param, "make_metavar", lambda ctx=None, usage=False, _shown=shown: _shown)
    for sub in (getattr(command, "_loaded", None) or getattr(command, "commands", {}) or {}).values():
        tidy_help(sub)


def _range_check(original: Any, low: Any, high: Any) -> Any:
    def check(ctx: Any, param: Any, value: Any) -> Any:
        import math

        from typer._click.exceptions import BadParameter

        for item in (value if isinstance(value, (list, tuple)) else [value]):
            if item is None:
                continue
            if isinstance(item, float) and math.isnan(item) or (low is not None and item < low) \
                    or (high is not None and item > high):
                span = f"from {low} to {high}" if low is not None and high is not None else \
                    f"at least {low}" if low is not None else f"at most {high}"
                raise BadParameter(f"{item} is not {span}", ctx=ctx, param=param)
        return original(ctx, param, value) if original else value

    return check


class AkoolGroup(TyperGroup):
    """The root command: commands loaded lazily, Click's usage errors in the tool's own one-line
    style, and `akool` alone prints the help and exits 0 (asking for help is not an error)."""

    @property  # type: ignore[override]
    def commands(self) -> dict[str, Any]:
        """Every command (help, docs and completion of command names need them all)."""
        for name in COMMANDS:
            self._load(name)
        return self._loaded

    @commands.setter
    def commands(self, value: dict[str, Any]) -> None:
        self._loaded = dict(value or {})

    def _load(self, name: str) -> Any:
        if name not in self._loaded and name in COMMANDS:
            self._loaded[name] = load_command(name)
        return self._loaded.get(name)

    def list_commands(self, ctx: Any) -> list[str]:
        return list(COMMANDS)

    def make_context(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().make_context(*args, **kwargs)
        except KeyboardInterrupt as stop:
            raise _stopped_early(stop) from None

    def invoke(self, ctx: Any) -> Any:
        # A command's own guard reports a stop; one that reaches here came before it (loading, parsing).
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as stop:
            raise _stopped_early(stop) from None

    def get_command(self, ctx: Any, name: str) -> Any:
        return self._load(name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        """The root help, written plainly from the registry: no command module, no Rich, no
        Markdown parser is loaded for it (Typer's rich help alone costs more than the whole of
        `akool cost`). Each command's own help stays Typer's."""
        formatter.write_usage(ctx.command_path, "[OPTIONS] COMMAND [ARGS]...")
        formatter.write_paragraph()
        formatter.write_text(self.help or "")
        options = [record for param in self.get_params(ctx) if (record := param.get_help_record(ctx))]
        with formatter.section("Options"):
            formatter.write_dl(options)
        for panel in dict.fromkeys(entry.panel for entry in COMMANDS.values()):
            with formatter.section(panel):
                formatter.write_dl([(name, entry.summary) for name, entry in COMMANDS.items()
                                    if entry.panel == panel])
        formatter.write_paragraph()
        formatter.write_text("Run 'akool COMMAND --help' for a command's options; 'akool man | man -l -' "
                             "for the manual.")

    def main(self, args: Any = None, prog_name: Any = None, complete_var: Any = None,  # type: ignore[override]
             standalone_mode: bool = True, **extra: Any) -> Any:
        import sys

        # Typer 0.28 vendors Click as typer._click; its errors and typer.Abort are what parsing raises.
        from typer._click import exceptions as click_errors

        argv = list(sys.argv[1:] if args is None else args)
        import os

        if os.environ.get("_AKOOL_COMPLETE"):
            from akool_cli.completion import register_shells

            register_shells()
        from akool_cli.core.errors import UsageError
        from akool_cli.options import SELECTED_FIELDS, take_fields

        try:
            argv, fields = take_fields(argv)
        except UsageError as error:
            sys.stderr.write(error_text(error.message, error.hint, 2, as_json=True) + "\n")
            return _finish(2, standalone_mode)
        selected = SELECTED_FIELDS.set(fields)
        try:
            rv = super().main(args=argv, prog_name=prog_name, complete_var=complete_var, standalone_mode=False,
                              **extra)
            code = rv if isinstance(rv, int) and not isinstance(rv, bool) else 0
        except click_errors.NoArgsIsHelpError as help_wanted:
            sys.stdout.write((help_wanted.ctx.get_help() if help_wanted.ctx else "") + "\n")
            code = 0
        except click_errors.UsageError as error:
            write_usage_error(error, json_errors=wants_json_argv(argv))
            code = 2
        except typer.Abort:
            sys.stderr.write("error: interrupted\n")
            code = int(ExitCode.INTERRUPTED)
        except click_errors.ClickException as error:
            sys.stderr.write(f"error: {clean(error.format_message())}\n")
            code = error.exit_code
        finally:
            SELECTED_FIELDS.reset(selected)
        from akool_cli.core import signals

        stopped = signals.unreported()
        if stopped is not None:  # stopped inside Click's own machinery, which exits 130 without a word
            signals.mark_reported()
            sys.stderr.write(f"error: {signals.label(stopped)}; nothing was sent\n")
            code = 128 + int(stopped)
        return _finish(code, standalone_mode)


def _finish(code: int, standalone_mode: bool) -> int:
    import sys

    if standalone_mode:
        sys.exit(code)
    return code


def _stopped_early(stop: KeyboardInterrupt) -> "typer.Exit":
    import sys

    from akool_cli.core import signals

    signals.mark_reported()
    label = getattr(stop, "label", "interrupted")
    sys.stderr.write(f"error: {label} while starting; nothing was sent\n")
    return typer.Exit(getattr(stop, "exit_code", int(ExitCode.INTERRUPTED)))


def write_usage_error(error: Any, *, json_errors: bool) -> None:
    import re
    import sys

    message = " ".join(error.format_message().split())
    message = re.sub(r"^(Invalid value|Missing argument|Missing option|No such option|No such command|"
                     r"Got unexpected extra)", lambda m: m.group(1).lower(), message).rstrip(".")
    message = re.sub(r"\.? ?\(?Did you mean ([^?]+)\?\)?", r" (did you mean \1?)", message)
    path = error.ctx.command_path if getattr(error, "ctx", None) else "akool"
    hint = f"see: {path} --help"
    sys.stderr.write(error_text(message, hint, 2, as_json=json_errors) + "\n")


app = typer.Typer(
    name="akool",
    cls=AkoolGroup,
    help="Turn still images into short AI videos with Akool's Image-to-Video API.",
    no_args_is_help=True,
    # Completion scripts ship in completions/ (generated from this app); Typer's own installer
    # options would cost every start-up the import of its shell detection.
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"akool-cli {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    ctx: typer.Context,
    profile: Annotated[Optional[str], typer.Option("--profile", "-p", metavar="NAME",
                                                   help="Profile for config and credentials (env AKOOL_PROFILE).")] = None,
    sandbox: Annotated[bool, typer.Option("--sandbox", help="Use the local sandbox: no account, no credits.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log each HTTP request to stderr (secrets redacted).")] = False,
    version: Annotated[bool, typer.Option("--version", callback=_version, is_eager=True,
                                          help="Show the version and exit.")] = False,
) -> None:
    runtime = ctx.obj if isinstance(ctx.obj, Runtime) else Runtime.from_os()
    ctx.obj = App(runtime, profile_flag=profile, sandbox=sandbox, verbose=verbose)
    ctx.call_on_close(ctx.obj.close)


def scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "****")
    return text


def report(state: App, error: AkoolError) -> None:
    from akool_cli.output.hints import complete

    complete(error, state.command)
    secrets = state.secrets()
    error.message = scrub(error.message, secrets)
    error.hint = scrub(error.hint, secrets) if error.hint else None
    state.renderer.error(error)


def _silence_stdout(state: App) -> None:
    import os

    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, state.runtime.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass  # not a real file (tests), nothing left to silence


def guarded(func: F) -> F:
    """Every command runs inside this: typed errors become one line and their exit code."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        ctx: typer.Context = kwargs["ctx"]
        state: App = ctx.obj
        # Scripts asked for JSON: errors on stderr become one JSON object too.
        state.renderer.json_errors = wants_json(kwargs.get("fmt"), bool(kwargs.get("json_out")))
        try:
            return func(*args, **kwargs)
        except AkoolError as error:
            report(state, error)
            raise typer.Exit(int(error.exit_code)) from None
        except KeyboardInterrupt as stop:
            import signal

            signum = getattr(stop, "signum", signal.SIGINT)
            label = getattr(stop, "label", "interrupted")
            stopped = Interrupted(label, hint=state.resume_hint or "nothing was lost", signum=signum)
            report(state, stopped)
            from akool_cli.core import signals

            signals.mark_reported()
            raise typer.Exit(int(stopped.exit_code)) from None
        except (typer.Exit, typer.Abort):
            raise
        except BrokenPipeError:
            # The reader went away (`akool history | head -1`): stop quietly, as other tools do.
            _silence_stdout(state)
            raise typer.Exit(int(ExitCode.OK)) from None
        except Exception as exc:  # noqa: BLE001 - the promise is: never a traceback
            if state.verbose:
                import traceback

                state.renderer.info(scrub(traceback.format_exc(), state.secrets()))
            report(state, AkoolError(f"unexpected {type(exc).__name__}: {exc}",
                                     hint="this is a bug; rerun with --verbose and report it"))
            raise typer.Exit(int(ExitCode.UNEXPECTED)) from None

    return wrapper  # type: ignore[return-value]
