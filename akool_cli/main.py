"""Entry point of the `akool` command."""

from __future__ import annotations

import sys

from akool_cli.core import signals


def _safe_streams() -> None:
    """On a console that cannot encode everything (cp1252, ascii), print what it cannot as escapes
    instead of crashing with UnicodeEncodeError halfway through a listing."""
    for stream in (sys.stdout, sys.stderr):
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        if encoding and not encoding.startswith("utf") and hasattr(stream, "reconfigure"):
            try:
                stream.reconfigure(errors="backslashreplace")
            except (ValueError, OSError):
                pass


def run() -> None:
    try:
        # First thing: SIGINT, SIGTERM and SIGHUP all stop through one handler (akool_cli.core.signals).
        signals.install()
        _safe_streams()
        # `akool --version` is what scripts probe first; answering it needs none of the app.
        if sys.argv[1:] == ["--version"]:
            from akool_cli import __version__

            sys.stdout.write(f"akool-cli {__version__}\n")
            return
        with signals.deferred():  # a signal during the imports is raised once they are done: one clean line
            from akool_cli.cli import app

        try:
            app(prog_name="akool")
        finally:
            signals.ignore()  # the command is over: a late Ctrl-C must not turn its exit into a crash
    except KeyboardInterrupt as stop:  # outside the commands' own handlers: start-up, parsing
        signals.mark_reported()
        code = getattr(stop, "exit_code", 130)
        label = getattr(stop, "label", "interrupted")
        sys.stderr.write(f"error: {label} while starting; nothing was sent\n")
        sys.exit(code)
    except Exception as exc:  # noqa: BLE001 - outside every command's guard: still one line, never a traceback
        sys.stderr.write(f"error: unexpected {type(exc).__name__}; this is a bug: rerun with --verbose and report it\n")
        sys.exit(1)
