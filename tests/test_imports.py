"""The house's imports: no module of api/, worker/, shared/ or canopy_cli/ imports itself back
through others (function-level imports included), api/ never imports worker/, and the render
pipeline (worker/render/) never imports Flask, Celery or SQLAlchemy; what every attempt and
the reaper use (worker/attempt.py) never reaches the Celery app."""
from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).parent.parent
PACKAGES = ("api", "worker", "shared", "canopy_cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def project_modules() -> dict[str, Path]:
    return {module_name(path): path for package in PACKAGES
            for path in sorted((ROOT / package).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The modules `name` imports, at any depth of its code: project modules by their
    name (`from a import b` names a.b when b is a module), others by their top package."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([base] if base else [])])
            found |= {f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base
                      for alias in node.names}
    return {module if module in known else module.split(".")[0] for module in found}


def graph() -> dict[str, set[str]]:
    modules = project_modules()
    known = set(modules)
    return {name: imports_of(name, path, known) for name, path in modules.items()}


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None (a depth-first search)."""
    state: dict[str, str] = {}  # "open" while on the path, "done" once explored
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = "open"
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == "open":
                return path[path.index(nxt):] + [nxt]
            if nxt in edges and nxt not in state and (found := visit(nxt)):
                return found
        path.pop()
        state[node] = "done"
        return None

    for start in sorted(edges):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_no_module_imports_itself_back():
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_the_search_finds_a_circle():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "flask"}, "b": set()}) is None


def test_api_never_imports_the_worker_and_the_pipeline_stays_pure():
    edges = graph()
    wrong = {f"{name} imports {module}" for name, imported in edges.items()
             for module in imported
             if (name.startswith("api") and module.split(".")[0] == "worker")
             or (name.startswith("worker.render")
                 and module.split(".")[0] in ("flask", "celery", "sqlalchemy"))}
    assert wrong == set()


def reachable(edges: dict[str, set[str]], start: str) -> set[str]:
    """Every module `start` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for nxt in edges.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_the_attempts_toolbox_and_the_reaper_never_import_the_celery_app():
    """worker/attempt.py is what every task builds on and the reaper uses: imports run one
    way, from the task modules (which import worker.celery) to it, never back."""
    edges = graph()
    assert {name: "worker.celery" in reachable(edges, name)
            for name in ("worker.attempt", "worker.reaper", "worker.piece_cache")} == {
        "worker.attempt": False, "worker.reaper": False, "worker.piece_cache": False}
    assert "worker.attempt" in reachable(edges, "worker.tasks.render")  # the walk sees edges
