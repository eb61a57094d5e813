"""akool completion and akool man: what pip, pipx and uv installs do not put in place."""

from __future__ import annotations

from typing import Annotated, Optional

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
def man_command(
    ctx: typer.Context,
    install: Annotated[bool, typer.Option("--install", help="Write the page where `man akool` finds it "
                                          "(~/.local/share/man, or --dir) instead of printing it.")] = False,
    directory: Annotated[Optional[str], typer.Option("--dir", metavar="DIR", help="With --install: the man "
                                                     "directory (holds man1/).")] = None,
) -> None:
    """Print the man page (roff): akool man | man -l -"""
    from akool_cli.docgen import man_page

    state: App = ctx.obj
    if not install:
        state.renderer.out_file.write(man_page())
        return
    import os

    from akool_cli.core.errors import AkoolError
    from akool_cli.core.install import install_man_page, man_dir, man_finds

    env = state.runtime.env
    folder = directory or man_dir(env, env.get("HOME") or os.path.expanduser("~"))
    try:
        where = install_man_page(folder, man_page())
    except OSError as error:
        raise AkoolError(f"could not write the man page under {folder}: {error.strerror or error}",
                         hint="choose a folder you can write: akool man --install --dir DIR") from None
    state.renderer.info(f"wrote {where}; read it with: man akool")
    if man_finds(folder, env) is False:
        state.renderer.warn(f"man does not search {folder} yet; add it to MANPATH, e.g. "
                            f"export MANPATH=\"{folder}:$(manpath)\"")
