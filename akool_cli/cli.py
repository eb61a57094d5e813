"""The app with every command registered on it."""

from akool_cli.app import app
from akool_cli.commands import (add_audio, auth, config, cost, create, delete, download, effects,  # noqa: F401
                                history, sandbox, status, webhook)

__all__ = ["app"]
