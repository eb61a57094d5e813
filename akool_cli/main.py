"""Entry point of the `akool` command."""

from __future__ import annotations

import sys


def run() -> None:
    # `akool --version` is what scripts probe first; answering it needs none of the app.
    if sys.argv[1:] == ["--version"]:
        from akool_cli import __version__

        sys.stdout.write(f"akool-cli {__version__}\n")
        return
    from akool_cli.cli import app

    try:
        app(prog_name="akool")
    except KeyboardInterrupt:  # outside the commands' own handlers, e.g. while parsing
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
