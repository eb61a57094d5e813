"""The package's layers: no import runs upward (lazy and type-only imports included)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import akool_cli

PACKAGE = Path(akool_cli.__file__).parent
# Lowest first. A module may import its own layer and any layer below it, never one above.
LAYERS = ["core", "api", "store", "pricing", "flows", "output"]
SHELL = "shell"  # commands/ and the top-level modules: the app itself, free to import any layer


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) > 1 and parts[1] in LAYERS + ["sandbox"]:
        return parts[1]
    return SHELL


def imports_of(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("akool_cli"):
            if node.module == "akool_cli":  # `from akool_cli import x`: x is a module or __version__
                found.update(f"akool_cli.{alias.name}" for alias in node.names if alias.name != "__version__")
            else:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("akool_cli"))
    return found


def module_name(path: Path) -> str:
    relative = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(relative.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def violations() -> list[str]:
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        module = module_name(path)
        mine = layer_of(module)
        for target in sorted(imports_of(path)):
            theirs = layer_of(target)
            if target == "akool_cli" or mine == SHELL:
                continue
            if mine == "sandbox" or theirs == "sandbox":
                if mine != theirs:
                    found.append(f"{module} -> {target} (the sandbox is written from the API documents alone)")
                continue
            if theirs == SHELL or LAYERS.index(theirs) > LAYERS.index(mine):
                found.append(f"{module} ({mine}) -> {target} ({theirs})")
    return found


def test_no_import_runs_upward():
    assert violations() == []


def test_every_layer_says_what_it_holds_and_may_import():
    for layer in LAYERS + ["commands", "sandbox"]:
        doc = ast.get_docstring(ast.parse((PACKAGE / layer / "__init__.py").read_text()))
        assert doc, f"akool_cli/{layer}/__init__.py has no docstring"


def test_the_checker_sees_an_upward_import(tmp_path):
    # The checker itself must be able to fail: a flow importing the renderer is caught.
    assert layer_of("akool_cli.flows.pay") == "flows"
    assert LAYERS.index(layer_of("akool_cli.output.render")) > LAYERS.index("flows")
    probe = tmp_path / "probe.py"
    probe.write_text("def f():\n    from akool_cli.output.render import Renderer\n")
    assert imports_of(probe) == {"akool_cli.output.render"}


def string_constants(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
                  and node.body and isinstance(node.body[0], ast.Expr)
                  and isinstance(node.body[0].value, ast.Constant)}
    return [node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings]


def _command_line() -> "re.Pattern[str]":
    from akool_cli.app import COMMANDS

    return re.compile(r"\bakool (" + "|".join(re.escape(name) for name in COMMANDS) + r")\b")


COMMAND_LINE = _command_line()


def test_the_http_client_and_the_store_hold_no_command_lines():
    # Advice lives in output/hints.py, keyed by business code and reason: MCP and the CLI word it each their way.
    for module in ["api/client.py", "store/history.py", "store/journal.py", "flows/wait.py", "flows/pay.py"]:
        found = [s for s in string_constants(PACKAGE / module) if COMMAND_LINE.search(s)]
        assert found == [], f"{module}: {found}"
