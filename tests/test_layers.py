"""The house is layered: no import cycle between our modules and no import from a lower layer up.

Folders are mapped to import names through pyproject's `package-dir` (core/ -> vidrecall.core, ...);
every module's imports are read with `ast` (function-level imports too, `if TYPE_CHECKING:` blocks
not), so a lazy import that hides a cycle or an upward dependency is caught as well. The rule is the
one docs/architecture.md states:

    core < tools < memory, prompts < indexing < agent < evaluation < roof (everything else in vidrecall/)
"""
from __future__ import annotations

import ast
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOP = "vidrecall"
LAYERS = [  # (layer name, import-name prefixes), lowest first; the roof takes every other vidrecall module
    ("core", ("vidrecall.core",)),
    ("tools", ("vidrecall.tools",)),
    ("memory/prompts", ("vidrecall.memory", "vidrecall.prompts")),
    ("indexing", ("vidrecall.indexing",)),
    ("agent", ("vidrecall.agent",)),
    ("evaluation", ("vidrecall.evaluation",)),
]
ROOF = "roof"


def package_dirs() -> dict[str, Path]:
    """Import name -> folder, from pyproject's [tool.setuptools] package-dir."""
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return {name: ROOT / folder for name, folder in data["tool"]["setuptools"]["package-dir"].items()}


def modules() -> dict[str, Path]:
    """Every module of ours: import name -> file. A folder mapped to its own name wins over its parent's walk."""
    mapped = package_dirs()
    out: dict[str, Path] = {}
    for name, folder in sorted(mapped.items(), key=lambda kv: len(kv[0])):  # parents first; children override
        for file in folder.rglob("*.py"):
            rel = file.relative_to(folder).with_suffix("")
            parts = [p for p in rel.parts if p != "__init__"]
            if any(p.startswith(".") or p == "__pycache__" for p in rel.parts):
                continue
            out[".".join([name, *parts])] = file
    return out


def layer_of(module: str) -> tuple[int, str]:
    for rank, (name, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return rank, name
    return len(LAYERS), ROOF


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """ids of import nodes inside `if TYPE_CHECKING:` blocks (annotations only; never run)."""
    skipped: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If):
            test = node.test
            name = test.id if isinstance(test, ast.Name) else test.attr if isinstance(test, ast.Attribute) else ""
            if name == "TYPE_CHECKING":
                skipped |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skipped


def imports_of(module: str, file: Path, known: set[str]) -> set[str]:
    """The modules of ours that `module` imports (`from pkg import sub` counts as pkg.sub when that is a module)."""
    tree = ast.parse(file.read_text(encoding="utf-8"), filename=str(file))
    skipped = _type_checking_nodes(tree)
    package = module if file.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        for name in names:
            while name and name not in known:  # `import vidrecall.tools.llm.factory` -> that module
                name = name.rpartition(".")[0]
            if name and name != module:
                found.add(name)
    return found


def import_graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {name: imports_of(name, file, known) for name, file in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    found: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return import_graph()


def test_the_mapping_finds_every_layer(graph) -> None:
    names = {layer_of(m)[1] for m in graph}
    assert names == {name for name, _ in LAYERS} | {ROOF}
    assert "vidrecall.core.config" in graph and "vidrecall.tools.llm.factory" in graph
    assert any(layer_of(m)[1] == "agent" for m in graph["vidrecall.api"])  # edges are really read
    assert "vidrecall.core.result" in graph["vidrecall.session"]


def test_no_module_imports_from_a_layer_above(graph) -> None:
    upward = []
    for module, targets in sorted(graph.items()):
        rank, name = layer_of(module)
        for target in sorted(targets):
            target_rank, target_name = layer_of(target)
            if target_rank > rank and target != TOP:  # the top package's __init__ runs first anyway
                upward.append(f"{module} ({name}) imports {target} ({target_name})")
    assert not upward, "upward imports:\n" + "\n".join(upward)


def test_core_imports_nothing_of_ours_outside_core(graph) -> None:
    outside = {f"{m} -> {t}" for m, ts in graph.items() if layer_of(m)[1] == "core"
               for t in ts if layer_of(t)[1] != "core"}
    assert not outside


def test_no_import_cycles(graph) -> None:
    found = cycles(graph)
    assert not found, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in found)


def test_the_checker_sees_a_cycle_and_a_lazy_upward_import(tmp_path) -> None:
    """The check itself can fail: a two-module cycle and a function-level upward import are found."""
    assert cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
    lazy = tmp_path / "lazy.py"
    lazy.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from vidrecall.cli import main\n"
                    "def f():\n    from vidrecall.api import VideoQA\n")
    found = imports_of("vidrecall.tools.lazy", lazy, {"vidrecall.api", "vidrecall.cli", "vidrecall.tools.lazy"})
    assert found == {"vidrecall.api"}


def test_every_subpackage_is_listed_for_packaging() -> None:
    """A folder with an __init__.py that pyproject's `packages` omits is missing from a built wheel."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {name for name, file in modules().items() if file.name == "__init__.py"}
    assert not found - listed, f"add to pyproject packages (and package-dir if outside vidrecall/): {sorted(found - listed)}"
