"""akool mcp: the Model Context Protocol server for AI agents (plan, then pay)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, List, Optional

import typer

from akool_cli.app import guarded
from akool_cli.context import App

mcp_app = typer.Typer()


@mcp_app.command("mcp")
@guarded
def mcp_command(
    ctx: typer.Context,
    session_credits: Annotated[Optional[int], typer.Option("--session-credits", metavar="N", min=0, help="Most credits this server session may spend over all its plans (default: config mcp.session_credits; max_credits bounds it too).")] = None,
    allow_dir: Annotated[Optional[List[Path]], typer.Option("--allow-dir", metavar="DIR", help="A folder download_video may write into (repeatable; none: no downloads).")] = None,
) -> None:
    """Serve akool to AI agents over stdio (MCP): plan_video prices, only execute_plan spends."""
    from akool_cli.core.errors import UsageError
    from akool_cli.core.install import add_package_hint

    state: App = ctx.obj
    try:
        import mcp  # noqa: F401
    except ImportError:
        raise UsageError("akool mcp needs the 'mcp' package (the official MCP Python SDK)",
                         hint="install it with: " + add_package_hint("mcp>=2,<3")) from None
    folders = []
    for folder in allow_dir or []:
        if not folder.expanduser().is_dir():
            raise UsageError(f"--allow-dir '{folder}' is not a folder", hint="create it first")
        folders.append(folder.expanduser())
    from akool_cli.mcp_server import serve

    serve(state, folders, session_credits)
