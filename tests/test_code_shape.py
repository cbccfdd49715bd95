"""The library stays readable in an hour: no module over 450 lines, no function over 80.

A function may pass 80 lines only with a ``# one piece: <why>`` comment on one
of the three lines above its ``def`` (or its decorators), saying why splitting
it would make it harder to read. Scripts and tests are not library code.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("nasframe", "search_spaces", "surrogates", "benchmarks")
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 80


def _modules() -> list[Path]:
    return sorted(p for package in PACKAGES for p in (ROOT / package).rglob("*.py"))


def _long_functions(path: Path) -> list[str]:
    lines = path.read_text().splitlines()
    found = []
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            first = min([node.lineno] + [d.lineno for d in node.decorator_list])
            above = lines[max(0, first - 4):first - 1]
            if length > MAX_FUNCTION_LINES and not any("# one piece:" in line for line in above):
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name} ({length} lines)")
    return found


def test_no_module_over_450_lines():
    long = [f"{p.relative_to(ROOT)} ({n})" for p in _modules() if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES]
    assert not long, "modules over 450 lines: " + ", ".join(long)


def test_no_function_over_80_lines_without_a_reason():
    long = [entry for p in _modules() for entry in _long_functions(p)]
    assert not long, "functions over 80 lines with no '# one piece:' comment: " + "; ".join(long)
