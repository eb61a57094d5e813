"""How to add an optional dependency to *this* installation: pipx, uv tool and a plain venv differ."""

from __future__ import annotations

import shlex
import sys
from typing import Mapping


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


def man_dir(env: Mapping[str, str], home: str) -> str:
    """Where a per-user man page goes: $XDG_DATA_HOME/man (~/.local/share/man), which man-db searches
    for a user whose PATH has ~/.local/bin, where pipx and uv put `akool`."""
    import os

    data = env.get("XDG_DATA_HOME") or os.path.join(home, ".local", "share")
    return os.path.join(data, "man")


def install_man_page(directory: str, page: str) -> str:
    """Write man1/akool.1 under `directory` atomically; returns the file's path."""
    import os
    import tempfile

    folder = os.path.join(os.path.expanduser(directory), "man1")
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=".akool.1.", dir=folder)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(page)
    os.chmod(tmp, 0o644)
    target = os.path.join(folder, "akool.1")
    os.replace(tmp, target)
    return target


def man_finds(directory: str, env: Mapping[str, str]) -> bool | None:
    """Whether `man` searches `directory` (asked of `manpath`); None where there is no manpath to ask."""
    import os
    import shutil
    import subprocess

    tool = shutil.which("manpath", path=env.get("PATH"))
    if tool is None:
        return None
    try:
        answer = subprocess.run([tool, "-q"], capture_output=True, text=True, timeout=5, env=dict(env))
    except (OSError, subprocess.SubprocessError):
        return None
    wanted = os.path.realpath(os.path.expanduser(directory))
    return any(os.path.realpath(p) == wanted for p in answer.stdout.strip().split(":") if p)
