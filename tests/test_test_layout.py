"""The suite's own layout: helpers live in tests/fixtures/, conftest.py files hold only
fixtures, and no test module imports another (a shared helper moves to tests/fixtures/)."""
from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).parent


def modules() -> dict[str, ast.Module]:
    return {str(path.relative_to(TESTS.parent)): ast.parse(path.read_text(), str(path))
            for path in sorted(TESTS.rglob("*.py"))}


def imported(tree: ast.Module) -> list[str]:
    """Every module `tree` imports (relative imports as ".name")."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append("." * node.level + (node.module or ""))
    return found


def test_tests_import_helpers_only_from_tests_fixtures():
    wrong = {path: name for path, tree in modules().items() for name in imported(tree)
             if name.startswith(".") or (name.startswith("tests")
                                         and not name.startswith("tests.fixtures"))}
    assert wrong == {}


def test_conftest_files_hold_only_fixtures_with_a_one_line_docstring():
    wrong = []
    for path, tree in modules().items():
        if not path.endswith("conftest.py"):
            continue
        for node in tree.body:
            if isinstance(node, (ast.ClassDef, ast.FunctionDef)):
                fixture = any("fixture" in ast.unparse(d) for d in getattr(node, "decorator_list", []))
                doc = ast.get_docstring(node) or ""
                if not fixture or not doc or "\n" in doc:  # one line that says what it gives
                    wrong.append(f"{path}: {node.name}")
    assert wrong == []
