"""The package's layers: the command line above the stage packages above a flat core.

Every import of every module (function-level ones too) is read from the source, so a lazy
import inside a hook counts as much as one at the top of a file.
"""
from __future__ import annotations

import ast
from pathlib import Path

from .conftest import REPO

PACKAGE = REPO / "ortho_suite"
# Rank of each top-level part of ortho_suite; anything not named is the core (rank 0: catalog,
# compat, errors, ..., models/, datasets/). A module may import its own rank or a lower one, and
# the stage packages of one rank never import each other.
RANKS = {"train": 1, "evaluate": 1, "report": 1,  # the DVC stages
         "experiments": 2,  # the papers' small experiments; iternorm_mapping pretrains (train)
         "cli": 3, "__main__": 3}
STAGE_PACKAGES = ("train", "evaluate", "report", "experiments")


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = REPO.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def import_graph() -> dict[str, set[str]]:
    """{module: the ortho_suite modules it imports}, from every .py file but the config
    fragments (mmengine reads those; they import nothing of the suite)."""
    graph = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        if "configs" in path.relative_to(PACKAGE).parts:
            continue
        name = _module_name(path)
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                for alias in node.names:  # `from pkg import module` imports the module
                    sub = f"{base}.{alias.name}"
                    targets.add(sub if _is_module(sub) else base)
        graph[name] = {t for t in targets if t.split(".")[0] == "ortho_suite" and t != name}
    return graph


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def rank(module: str) -> int:
    return RANKS.get(_part(module), 0)


def violations(graph: dict[str, set[str]]) -> list[str]:
    """Imports that go up a layer or across stage packages, and import cycles."""
    found = []
    for module, targets in graph.items():
        for target in sorted(targets):
            if rank(target) > rank(module):
                found.append(f"{module} imports {target} from a higher layer")
            elif (rank(target) == rank(module) > 0 and _part(target) != _part(module)
                  and _part(module) in STAGE_PACKAGES):
                found.append(f"{module} imports {target}, another stage package")
    state: dict[str, str] = {}

    def visit(module: str, trail: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph.get(module, ())):
            if state.get(target) == "open":
                found.append("import cycle: " + " -> ".join([*trail[trail.index(target):], target]))
            elif target not in state:
                visit(target, [*trail, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return found


def test_the_package_has_no_import_cycle_and_no_upward_import():
    graph = import_graph()
    assert {"ortho_suite.cli", "ortho_suite.train.hooks", "ortho_suite.runs"} <= set(graph)
    # lazy imports are seen: the online monitor's, inside a hook method
    assert "ortho_suite.probes" in graph["ortho_suite.train.hooks"]
    assert violations(graph) == []


def test_core_modules_never_import_a_stage_package():
    graph = import_graph()
    core = [m for m in graph if rank(m) == 0]
    assert {"ortho_suite.models.algorithms", "ortho_suite.build", "ortho_suite.features"} <= set(core)
    assert {m: sorted(t for t in graph[m] if rank(t) > 0) for m in core
            if any(rank(t) > 0 for t in graph[m])} == {}


def test_the_guard_finds_the_circle_the_old_layout_had():
    """pretrain -> engine/hooks -> evaluate -> pretrain, as the flat layout had it, and a core
    module reaching up into a stage."""
    old = {"ortho_suite.train.pretrain": {"ortho_suite.train.hooks"},
           "ortho_suite.train.hooks": {"ortho_suite.evaluate.evaluate"},
           "ortho_suite.evaluate.evaluate": {"ortho_suite.train.pretrain"},
           "ortho_suite.features": {"ortho_suite.report.tables"}}
    found = violations(old)
    assert "ortho_suite.train.hooks imports ortho_suite.evaluate.evaluate, another stage package" in found
    assert "ortho_suite.features imports ortho_suite.report.tables from a higher layer" in found
    assert any(f.startswith("import cycle: ortho_suite.evaluate.evaluate -> ortho_suite.train.pretrain")
               for f in found)
