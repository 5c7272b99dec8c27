"""The package's floors (ARCHITECTURE.md): imports point only downward.

Every ``soundwave.*`` import, at module level or inside a function, is checked: a lower
floor never imports a higher one, no entry point imports another, the core never imports
the offline recipe's kit, and modules import each other in no circle.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "soundwave"

# top-level part of the package -> floor; a part may import its own floor and lower ones
FLOORS = {
    "__init__": 0,
    "errors": 0,
    "fileio": 0,
    "config": 0,
    "stages": 0,
    "data": 1,
    "features": 1,
    "tasks": 1,
    "jobs": 1,
    "score": 1,
    "models": 2,
    "decode": 3,
    "train": 4,
    "viz": 5,
    "offline": 6,  # the offline recipe's kit: may use the core, never the other way round
    "bin": 9,
}


def module_name(path: Path) -> str:
    parts = ["soundwave", *path.relative_to(PACKAGE).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> set[str]:
    """The ``soundwave`` modules that ``path`` imports (``from a import b``: ``a.b`` if that
    is a module, else ``a``)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                found.add(sub if sub in MODULES else node.module)
    return {m for m in found if m == "soundwave" or m.startswith("soundwave.")}


MODULES = {module_name(p): p for p in PACKAGE.rglob("*.py")}
GRAPH = {name: imports(path) for name, path in MODULES.items()}


def part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def test_every_part_has_a_floor():
    assert {part(m) for m in MODULES} <= set(FLOORS)


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{src} imports {dst}"
        for src, dsts in graph.items()
        for dst in dsts
        if FLOORS[part(dst)] > FLOORS[part(src)]
    ]


def entry_points_importing_entry_points(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{src} imports {dst}"
        for src, dsts in graph.items()
        if part(src) == "bin"
        for dst in dsts
        if part(dst) == "bin" and dst != "soundwave.bin"
    ]


def circles(graph: dict[str, set[str]]) -> list[str]:
    """Depth-first search for back edges over the module graph."""
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    found = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for dst in sorted(graph.get(module, ())):
            if dst not in graph or dst == module:
                continue
            if state.get(dst) == 1:
                found.append(" -> ".join([*path[path.index(dst) :], dst]))
            elif dst not in state:
                visit(dst, [*path, dst])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_no_lower_floor_imports_a_higher_one():
    assert upward_imports(GRAPH) == []


def test_no_entry_point_imports_another():
    assert entry_points_importing_entry_points(GRAPH) == []


def test_no_circle_of_imports():
    assert circles(GRAPH) == []


def test_the_checks_catch_what_they_check():
    graph = {
        "soundwave.decode.decode": {"soundwave.train.stages"},
        "soundwave.train.stages": {"soundwave.decode.decode"},
        "soundwave.bin.decode": {"soundwave.bin.compute_fbank"},
        "soundwave.models.tiny": {"soundwave.offline.standin.encoder"},
    }
    assert upward_imports(graph) == [
        "soundwave.decode.decode imports soundwave.train.stages",
        "soundwave.models.tiny imports soundwave.offline.standin.encoder",
    ]
    assert entry_points_importing_entry_points(graph) == [
        "soundwave.bin.decode imports soundwave.bin.compute_fbank"
    ]
    assert circles(graph) == [
        "soundwave.decode.decode -> soundwave.train.stages -> soundwave.decode.decode"
    ]


def test_every_import_resolves():
    """Imports inside functions (kept there so that --help stays fast) run only when the
    function does: each must name a module or a name that exists."""
    import importlib

    missing = []
    for path in MODULES.values():
        for node in ast.walk(ast.parse(path.read_text())):
            if not (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module):
                continue
            if not node.module.startswith("soundwave"):
                continue
            module = importlib.import_module(node.module)
            for alias in node.names:
                sub = f"{node.module}.{alias.name}"
                if not hasattr(module, alias.name) and sub not in MODULES:
                    missing.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno}: {sub}")
    assert missing == []
