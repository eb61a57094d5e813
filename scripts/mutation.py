"""Mutation testing of the money code: does the suite notice a one-point change to it?

    python scripts/mutation.py [--jobs 2] [--module akool_cli/pricing/budget.py ...] [--limit N]

Each mutant changes one thing in one module (a comparison flipped or loosened, + and - swapped,
`and`/`or` swapped, a number off by one, True/False swapped, a `not` dropped, a statement's call
removed) in a copy of the checkout, then runs the money tests there: the fast seam tests first
(tests/test_pay_gate.py, tests/test_submit.py), then the doors against the sandbox (tests/test_money_doors.py,
tests/test_models_money.py) only for mutants the first did not kill. It prints every survivor
(file:line, what changed) and the kill rate per module and overall. Nothing here runs in CI: it takes
minutes, not seconds.
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ["akool_cli/pricing/prices.py", "akool_cli/pricing/budget.py", "akool_cli/flows/pay.py", "akool_cli/flows/submit.py"]
FAST = ["tests/test_pay_gate.py", "tests/test_submit.py"]
SLOW = ["tests/test_money_doors.py", "tests/test_models_money.py"]
# Beyond those, a module's own end-to-end tests: submission under real signals (Ctrl-C twice, SIGTERM).
SLOW_EXTRA = {"akool_cli/flows/submit.py": ["tests/test_reliability.py", "tests/test_integrity.py"]}

SWAPS: dict[type, list[type]] = {
    ast.Lt: [ast.LtE], ast.LtE: [ast.Lt], ast.Gt: [ast.GtE], ast.GtE: [ast.Gt],
    ast.Eq: [ast.NotEq], ast.NotEq: [ast.Eq], ast.In: [ast.NotIn], ast.NotIn: [ast.In],
    ast.Is: [ast.IsNot], ast.IsNot: [ast.Is],
    ast.Add: [ast.Sub], ast.Sub: [ast.Add], ast.Mult: [ast.FloorDiv], ast.FloorDiv: [ast.Mult],
    ast.And: [ast.Or], ast.Or: [ast.And],
}


@dataclass(frozen=True)
class Mutant:
    module: str
    index: int  # which mutation point, in ast.walk order
    line: int
    what: str


def _points(tree: ast.AST) -> list[tuple[ast.AST, str, object]]:
    """Every place a mutation can go, with what it would do."""
    points: list[tuple[ast.AST, str, object]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                for new in SWAPS.get(type(op), []):
                    points.append((node, f"{type(op).__name__} -> {new.__name__}", ("cmp", i, new)))
        elif isinstance(node, (ast.BinOp, ast.AugAssign)) and type(node.op) in SWAPS:
            for new in SWAPS[type(node.op)]:
                points.append((node, f"{type(node.op).__name__} -> {new.__name__}", ("op", new)))
        elif isinstance(node, ast.BoolOp):
            for new in SWAPS[type(node.op)]:
                points.append((node, f"{type(node.op).__name__} -> {new.__name__}", ("op", new)))
        elif isinstance(node, ast.Constant) and type(node.value) is bool:
            points.append((node, f"{node.value} -> {not node.value}", ("const", not node.value)))
        elif isinstance(node, ast.Constant) and type(node.value) is int and not isinstance(node.value, bool):
            points.append((node, f"{node.value} -> {node.value + 1}", ("const", node.value + 1)))
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            points.append((node, "not x -> x", ("unnot",)))
        elif isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
            points.append((node, "call removed", ("drop",)))
    return points


def _is_docstring_or_annotation(tree: ast.AST) -> set[int]:
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for arg in node.args.args + node.args.kwonlyargs:
                if arg.annotation is not None:
                    skip.update(id(n) for n in ast.walk(arg.annotation))
            if node.returns is not None:
                skip.update(id(n) for n in ast.walk(node.returns))
        if isinstance(node, ast.AnnAssign):
            skip.update(id(n) for n in ast.walk(node.annotation))
    return skip


def mutants(module: str) -> list[Mutant]:
    tree = ast.parse((ROOT / module).read_text())
    skip = _is_docstring_or_annotation(tree)
    found = []
    for index, (node, what, _) in enumerate(_points(tree)):
        if id(node) in skip:
            continue
        found.append(Mutant(module, index, getattr(node, "lineno", 0), what))
    return found


class _Apply(ast.NodeTransformer):
    def __init__(self, target: ast.AST, change: object) -> None:
        self.target, self.change = target, change

    def generic_visit(self, node: ast.AST) -> ast.AST | None:  # type: ignore[override]
        node = super().generic_visit(node)
        if node is not self.target:
            return node
        kind = self.change[0]  # type: ignore[index]
        if kind == "cmp":
            _, i, new = self.change  # type: ignore[misc]
            node.ops[i] = new()  # type: ignore[attr-defined]
        elif kind == "op":
            node.op = self.change[1]()  # type: ignore[attr-defined,index]
        elif kind == "const":
            node.value = self.change[1]  # type: ignore[attr-defined,index]
        elif kind == "unnot":
            return node.operand  # type: ignore[attr-defined]
        elif kind == "drop":
            return ast.Pass()
        return node


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse((ROOT / mutant.module).read_text())
    node, _, change = _points(tree)[mutant.index]
    new = _Apply(node, change).visit(tree)
    ast.fix_missing_locations(new)
    return ast.unparse(new)


def _copy_checkout(into: Path) -> None:
    for name in ("akool_cli", "tests", "examples"):
        shutil.copytree(ROOT / name, into / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", into / "pyproject.toml")


def _killed(work: Path, tests: list[str], timeout: float) -> bool:
    env = {**os.environ, "PYTHONPATH": str(work), "PYTHONDONTWRITEBYTECODE": "1"}
    done = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *tests],
                          cwd=work, env=env, capture_output=True, timeout=timeout)
    return done.returncode != 0


def run_one(mutant: Mutant, slot: Path) -> tuple[Mutant, bool]:
    target = slot / mutant.module
    original = (ROOT / mutant.module).read_text()
    try:
        target.write_text(mutated_source(mutant))
        # The unmutated fast tests take seconds and the slow ones under two minutes: far longer is a hang,
        # which the suite notices too (a test that never ends fails CI's time limit).
        killed = _killed(slot, FAST, 60) or _killed(slot, SLOW + SLOW_EXTRA.get(mutant.module, []), 240)
    except subprocess.TimeoutExpired:
        killed = True
    finally:
        target.write_text(original)
    return mutant, killed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--module", action="append")
    parser.add_argument("--limit", type=int, default=0, help="at most this many mutants per module (0: all)")
    args = parser.parse_args()
    chosen = [m for module in (args.module or MODULES) for m in mutants(module)[: args.limit or None]]
    print(f"{len(chosen)} mutants in {', '.join(args.module or MODULES)}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        slots = []
        for n in range(args.jobs):
            slot = Path(tmp) / f"slot{n}"
            _copy_checkout(slot)
            slots.append(slot)
        free = list(slots)
        results: list[tuple[Mutant, bool]] = []

        def task(mutant: Mutant) -> tuple[Mutant, bool]:
            slot = free.pop()
            try:
                return run_one(mutant, slot)
            finally:
                free.append(slot)

        from concurrent.futures import as_completed

        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            for future in as_completed([pool.submit(task, m) for m in chosen]):
                mutant, killed = future.result()
                results.append((mutant, killed))
                if not killed:
                    print(f"survived: {mutant.module}:{mutant.line} {mutant.what}", flush=True)
                if len(results) % 25 == 0:
                    print(f"... {len(results)}/{len(chosen)}", flush=True)
    total = len(results)
    for module in dict.fromkeys(m.module for m, _ in results):
        mine = [k for m, k in results if m.module == module]
        print(f"{module}: {sum(mine)}/{len(mine)} killed ({100 * sum(mine) / max(len(mine), 1):.0f}%)")
    rate = 100 * sum(k for _, k in results) / max(total, 1)
    print(f"overall: {sum(k for _, k in results)}/{total} killed ({rate:.1f}%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
