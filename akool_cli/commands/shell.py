"""akool completion and akool man: what pip, pipx and uv installs do not put in place."""

from __future__ import annotations

from typing import Annotated

import typer

from akool_cli.app import guarded
from akool_cli.context import App


def _complete_shell(incomplete: str) -> list[str]:
    from akool_cli.completion import SHELLS

    return [s for s in SHELLS if s.startswith(incomplete)]


completion_app = typer.Typer()


@completion_app.command("completion")
@guarded
def completion_command(
    ctx: typer.Context,
    shell: Annotated[str, typer.Argument(metavar="SHELL", autocompletion=_complete_shell,
                                         help="bash, zsh or fish.")],
) -> None:
    """Print the shell completion script, e.g. eval "$(akool completion bash)"."""
    from akool_cli.completion import SHELLS, completion_script
    from akool_cli.core.errors import UsageError

    state: App = ctx.obj
    if shell not in SHELLS:
        raise UsageError(f"unknown shell '{shell}'", hint="use one of " + ", ".join(SHELLS))
    state.renderer.line(completion_script(shell).rstrip("\n"))


man_app = typer.Typer()


@man_app.command("man")
@guarded
def man_command(ctx: typer.Context) -> None:
    """Print the man page (roff): akool man | man -l -"""
    from akool_cli.docgen import man_page

    state: App = ctx.obj
    state.renderer.out_file.write(man_page())
