"""How to add an optional dependency to *this* installation: pipx, uv tool and a plain venv differ."""

from __future__ import annotations

import shlex
import sys


def add_package_hint(spec: str, prefix: str | None = None, executable: str | None = None) -> str:
    """The command that installs `spec` (e.g. "mcp>=2,<3") where akool itself is installed."""
    prefix = prefix if prefix is not None else sys.prefix
    executable = executable if executable is not None else sys.executable
    parts = prefix.replace("\\", "/").split("/")
    if "pipx" in parts:
        return f"pipx inject akool-cli {shlex.quote(spec)}"
    if "uv" in parts and "tools" in parts:
        return f"uv tool install --reinstall --with {shlex.quote(spec)} akool-cli"
    return f"{shlex.quote(executable)} -m pip install {shlex.quote(spec)}"
