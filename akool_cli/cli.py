"""The app: the root callback and global options; commands are loaded when invoked (app.COMMANDS)."""

from akool_cli.app import app

__all__ = ["app"]
