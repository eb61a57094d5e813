"""Generate the shell completion scripts and the man page from the Typer app itself.

Run `python -m akool_cli.docgen` after changing a command; a test fails while the
checked-in files in completions/ and man/ differ from what this produces.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import typer

from akool_cli import __version__
from akool_cli.core.exit_codes import EXIT_CODE_MEANINGS

SHELLS = {"bash": "akool.bash", "zsh": "_akool", "fish": "akool.fish"}


def completion_scripts() -> dict[str, str]:
    from akool_cli.completion import completion_script

    return {name: completion_script(shell) for shell, name in SHELLS.items()}


def _roff(text: str) -> str:
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join(("\\&" + line) if line.startswith((".", "'")) else line for line in text.splitlines())


def _walk(command: Any, path: list[str]) -> list[tuple[list[str], Any]]:
    found = [(path, command)]
    for name in sorted(getattr(command, "commands", {}) or {}):
        sub = command.commands[name]
        if not getattr(sub, "hidden", False):
            found += _walk(sub, path + [name])
    return found


def _value_name(param: Any) -> str:
    if param.metavar:
        return param.metavar
    kind = getattr(param, "type", None)
    choices = getattr(kind, "choices", None)
    if choices:
        return "|".join(str(c) for c in choices)
    return str(getattr(kind, "name", "value")).upper()


def _option_line(param: Any) -> tuple[str, str]:
    names = ", ".join(f"\\fB{_roff(opt)}\\fR" for opt in list(param.opts) + list(param.secondary_opts))
    if not param.is_flag:
        names += f" \\fI{_roff(_value_name(param))}\\fR"
    return names, _roff((param.help or "").strip())


def man_page() -> str:
    from typer.main import get_command

    root = get_command(_app())
    lines = [
        f'.TH AKOOL 1 "" "akool-cli {__version__}" "User Commands"',
        ".SH NAME",
        "akool \\- turn still images into short AI videos with Akool's Image\\-to\\-Video API",
        ".SH SYNOPSIS",
        "\\fBakool\\fR [\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIARGS\\fR]...",
        ".SH DESCRIPTION",
        _roff("akool creates image-to-video jobs, follows them, downloads the results and keeps a local "
              "history of every job it paid for. Run it against the local sandbox with --sandbox to try "
              "anything without an account or credits."),
    ]
    for path, command in _walk(root, []):
        if path:
            lines += [".SH COMMAND: " + _roff(" ".join(path)).upper()]
            usage = " ".join(f"\\fI{_roff(p.metavar or p.name.upper())}\\fR" for p in command.params
                             if p.param_type_name == "argument")
            lines += [".PP", f"\\fBakool {_roff(' '.join(path))}\\fR [\\fIOPTIONS\\fR] {usage}".rstrip()]
            if command.help:
                lines += [".PP", _roff(command.help.strip())]
        else:
            lines += [".SH GLOBAL OPTIONS"]
        for param in command.params:
            if param.param_type_name != "option" or param.hidden:
                continue
            names, text = _option_line(param)
            lines += [".TP", names, text or "\\&"]
    lines += [".SH EXIT STATUS", ".TP"]
    exit_lines = []
    for code, meaning in EXIT_CODE_MEANINGS.items():
        exit_lines += [f"\\fB{int(code)}\\fR", _roff(meaning), ".TP"]
    lines += exit_lines[:-1]
    lines += [
        ".SH ENVIRONMENT",
        ".TP", "\\fBAKOOL_API_KEY\\fR", "API key (wins over the credential file).",
        ".TP", "\\fBAKOOL_CLIENT_ID\\fR, \\fBAKOOL_CLIENT_SECRET\\fR", "Legacy client credentials.",
        ".TP", "\\fBAKOOL_BASE_URL\\fR", "API base URL (wins over the profile's base_url).",
        ".TP", "\\fBAKOOL_PROFILE\\fR", "Profile to use when \\-\\-profile is not given.",
        ".TP", "\\fBAKOOL_CONFIG_DIR\\fR, \\fBAKOOL_DATA_DIR\\fR, \\fBAKOOL_CACHE_DIR\\fR",
        "Where config and credentials, the job history, and caches live.",
        ".TP", "\\fBNO_COLOR\\fR", "Plain text output with no escape codes.",
        ".SH FILES",
        _roff("config.toml and credentials.toml (mode 0600) in the user config folder; history.sqlite3 in the "
              "user data folder; the effect cache in the user cache folder. See: akool config path."),
        ".SH EXAMPLES",
        ".nf",
        _roff("akool --sandbox create photo.png --effect squish -o out.mp4\n"
              "akool create https://example.com/cat.png --effect cakeify --yes --json\n"
              "akool status --wait\nakool cost --resolution 1080p --length 10"),
        ".fi",
    ]
    return "\n".join(lines) + "\n"


def _app() -> typer.Typer:
    from akool_cli.cli import app

    return app


def outputs(root: Path) -> dict[Path, str]:
    files = {root / "completions" / name: text for name, text in completion_scripts().items()}
    files[root / "man" / "akool.1"] = man_page()
    return files


def main() -> None:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd()
    for path, text in outputs(root).items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        print(f"wrote {path}")


if __name__ == "__main__":
    main()
