"""The Typer application, its global options, and the guard that turns errors into exit codes."""

from __future__ import annotations

import functools
from typing import Annotated, Any, Callable, Optional, TypeVar

import typer

from akool_cli import __version__
from akool_cli.context import App, Runtime
from akool_cli.errors import AkoolError, Interrupted
from akool_cli.exit_codes import ExitCode

F = TypeVar("F", bound=Callable[..., Any])

app = typer.Typer(
    name="akool",
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
        try:
            return func(*args, **kwargs)
        except AkoolError as error:
            report(state, error)
            raise typer.Exit(int(error.exit_code)) from None
        except KeyboardInterrupt as stop:
            import signal

            signum = getattr(stop, "signum", signal.SIGINT)
            label = getattr(stop, "label", "interrupted")
            error = Interrupted(label, hint=state.resume_hint or "nothing was lost", signum=signum)
            report(state, error)
            raise typer.Exit(int(error.exit_code)) from None
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
