"""Entry point: the app with every command registered."""

from __future__ import annotations

import sys

from akool_cli.app import app
from akool_cli.commands import (add_audio, auth, config, cost, create, delete, download, effects, history,
                                sandbox, status)  # noqa: F401  (registers)


def run() -> None:
    try:
        app(prog_name="akool")
    except KeyboardInterrupt:  # between commands' own handlers, e.g. while parsing
        sys.stderr.write("error: interrupted\n")
        sys.exit(130)
