"""Architecture counts for a vidrecall source tree, so one script gives "before" and "after" figures.

Usage: python scripts/architecture_counts.py [ROOT] [--json] [--detail]
ROOT defaults to the repository this script lives in. Stdlib only; the heuristics are syntactic (ast), not typed.
"""
import argparse
import ast
import contextlib
import json
import os
import tomllib
from collections import defaultdict
from pathlib import Path

SKIP_DIRS = {".venv", "venv", "runs", "build", "dist", "__pycache__", ".git", "node_modules", ".tox", ".mypy_cache"}
DEFAULT_PACKAGE_DIRS = ["core", "tools", "memory", "prompts", "agent", "evaluation", "vidrecall"]
NOT_PACKAGE = ("tests", "benchmarks", "scripts", "notebooks")
NOT_CALLERS = ("tests", "benchmarks")
CAPTION_METHODS = {"caption", "caption_batch"}
BUILD_CALLS = {"build_level", "build_speech", "caption_level"}
GRID_CALLS = {"level_spans", "level_grid"}
DEF = (ast.FunctionDef, ast.AsyncFunctionDef)


def source_files(root: Path) -> dict[str, ast.Module | None]:
    """Every .py under root (pruning venvs, run outputs, build dirs) by posix path from root; None if unparseable."""
    trees = {}
    for folder, subdirs, files in os.walk(root):
        subdirs[:] = [d for d in subdirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        for path in (Path(folder, f) for f in files if f.endswith(".py")):
            trees[rel := path.relative_to(root).as_posix()] = None
            with contextlib.suppress(SyntaxError, UnicodeDecodeError, ValueError):
                trees[rel] = ast.parse(path.read_text(encoding="utf-8"), str(path))
    return dict(sorted(trees.items()))


def package_dirs(root: Path) -> set[str]:
    """The default package folders, every top-level folder pyproject's package-dir maps (e.g. a new indexing/),
    and any other top-level folder with an __init__.py (a new package not yet mapped)."""
    dirs = set(DEFAULT_PACKAGE_DIRS) | {p.parent.name for p in root.glob("*/__init__.py")}
    with contextlib.suppress(FileNotFoundError):
        config = tomllib.loads((root / "pyproject.toml").read_text())
        dirs |= {f.strip("./").split("/")[0] for f in config["tool"]["setuptools"].get("package-dir", {}).values()}
    return {d for d in dirs if d and d not in NOT_PACKAGE and d not in SKIP_DIRS and (root / d).is_dir()}


def in_dirs(path: str, dirs) -> bool:
    return any(path.startswith(d + "/") for d in dirs)


def qualify(scope: str, name: str) -> str:
    return name if scope == "<module>" else f"{scope}.{name}"


def scoped_nodes(tree: ast.AST, scope: str = "<module>"):
    """Yield (node, qualified name of the innermost enclosing def/class such as Class.method, or <module>)."""
    for child in ast.iter_child_nodes(tree):
        yield child, scope
        yield from scoped_nodes(child, qualify(scope, child.name) if isinstance(child, (*DEF, ast.ClassDef)) else scope)


def functions(tree: ast.AST):
    """Yield (def node, qualified name) for every def, nested ones included."""
    for node, scope in scoped_nodes(tree):
        if isinstance(node, DEF):
            yield node, qualify(scope, node.name)


def calls_by_scope(tree: ast.AST) -> dict[str, list[ast.Call]]:
    """The calls made directly in each def (not in the defs nested in it)."""
    grouped = defaultdict(list)
    for node, scope in scoped_nodes(tree):
        if isinstance(node, ast.Call):
            grouped[scope].append(node)
    return grouped


def called_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def is_caption_step(call: ast.Call) -> bool:
    """`<..captioner..>.caption(...)` / `.caption_batch(...)` (not the memory facade), or `CaptionRequest(...)`."""
    func = call.func
    on_captioner = isinstance(func, ast.Attribute) and "captioner" in ast.unparse(func.value).lower()
    return called_name(call) == "CaptionRequest" or (on_captioner and func.attr in CAPTION_METHODS)


def caption_step_sites(trees) -> list[str]:
    """Distinct functions running the caption step (the first such line shown)."""
    return [f"{path}:{steps[0].lineno} {scope}" for path, tree in trees.items()
            if not in_dirs(path, NOT_CALLERS + ("tools/captioners",))
            for scope, calls in calls_by_scope(tree).items() if (steps := [c for c in calls if is_caption_step(c)])]


def indexing_reasons(calls: list[ast.Call]) -> list[str]:
    """Why a def builds memory itself: it runs a whole level (build_level, or an engine's caption_level) or a
    speech lane (build_speech) -- not on a receiver named indexer, which makes it a caller of the Indexer --
    or captions a whole level grid (level_spans / level_grid without `within`) clip by clip."""
    def own(call: ast.Call) -> bool:
        func = call.func
        return not (isinstance(func, ast.Attribute) and "indexer" in ast.unparse(func.value).lower())

    names = {called_name(c) for c in calls}
    reasons = [f"calls {called_name(c)}" for c in calls if called_name(c) in BUILD_CALLS and own(c)]
    whole_grid = any(called_name(c) in GRID_CALLS and len(c.args) < 3 and all(k.arg != "within" for k in c.keywords)
                     for c in calls)
    return sorted(set(reasons)) + (["captions a whole level grid"] if whole_grid and names & CAPTION_METHODS else [])


def indexing_entry_points(trees) -> list[str]:
    """Distinct owners (a class, or a module-level function) of defs that build memory themselves."""
    owners: dict[str, list[str]] = {}
    for path, tree in trees.items():
        if in_dirs(path, NOT_CALLERS):
            continue
        calls = calls_by_scope(tree)
        for fn, name in functions(tree):
            if reasons := indexing_reasons(calls.get(name, [])):
                owner = f"{path} {name.split('.')[0]}"
                owners.setdefault(owner, []).append(f"{name}:{fn.lineno} ({', '.join(reasons)})")
    return [f"{owner}: {'; '.join(defs)}" for owner, defs in owners.items()]


def own_attribute_names(trees) -> set[str]:
    """Names a class of ours defines: defs, assignments and annotated fields in its body, and self.X = ... in it."""
    names = set()
    for cls in (n for tree in trees.values() for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
        for node in cls.body:
            targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
            names |= {node.name} if isinstance(node, (*DEF, ast.ClassDef)) else set()
        names |= {t.attr for t in ast.walk(cls) if isinstance(t, ast.Attribute) and isinstance(t.ctx, ast.Store)
                  and isinstance(t.value, ast.Name) and t.value.id == "self"}
    return names


def probed_name(node: ast.AST) -> str | None:
    """"name" for getattr(x, "name", ...) / hasattr(x, "name"), else None."""
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and len(node.args) >= 2):
        return None
    name = node.args[1]
    probe = node.func.id in {"getattr", "hasattr"} and isinstance(name, ast.Constant) and isinstance(name.value, str)
    return name.value if probe else None


def attribute_probes(trees, own: set[str]) -> tuple[list, list]:
    """Constant-name getattr/hasattr calls, split into (probes of our own types, probes of foreign objects)."""
    ours, foreign = [], []
    for path, tree in trees.items():
        for node, scope in scoped_nodes(tree):
            if attr := probed_name(node):
                place = f"{path}:{node.lineno} {scope}: {node.func.id}({ast.unparse(node.args[0])}, {attr!r})"
                (ours if attr in own else foreign).append(place)
    return ours, foreign


def type_name(annotation: ast.AST) -> str:
    """`dict` for dict, dict[str, int] or typing.Dict[...]."""
    return ast.unparse(annotation.value if isinstance(annotation, ast.Subscript) else annotation).rsplit(".", 1)[-1]


def is_dict_channel(annotation: ast.AST) -> bool:
    """dict, dict[...], list[dict], list[dict[...]] or Any (looking through Annotated[X, ...])."""
    name, inner = type_name(annotation), getattr(annotation, "slice", None)
    if name == "Annotated":
        return is_dict_channel(inner.elts[0] if isinstance(inner, ast.Tuple) else inner)
    return name in {"dict", "Dict", "Any"} or (name in {"list", "List"} and inner is not None
                                               and type_name(inner) in {"dict", "Dict"})


def dict_state_channels(trees) -> list[str]:
    tree = trees.get("agent/state.py", ast.Module(body=[]))
    return [f"agent/state.py:{f.lineno} {f.target.id}: {ast.unparse(f.annotation)}"
            for cls in ast.walk(tree) if isinstance(cls, ast.ClassDef) and cls.name == "AgentState"
            for f in cls.body if isinstance(f, ast.AnnAssign) and isinstance(f.target, ast.Name)
            and is_dict_channel(f.annotation)]


def param_sites(trees, keep) -> list[str]:
    """Defs with a parameter (positional, keyword-only, *args, **kwargs) for which keep(arg) holds."""
    return [f"{path}:{fn.lineno} {name}" for path, tree in trees.items() for fn, name in functions(tree)
            if any(keep(a) for a in ast.walk(fn.args) if isinstance(a, ast.arg))]


def largest(root: Path, trees) -> tuple[tuple[int, str], tuple[int, str]]:
    """(lines, file) of the longest file and (lines, place) of the longest def."""
    files = [(len((root / p).read_text(encoding="utf-8").splitlines()), p) for p in trees]
    defs = [(fn.end_lineno - fn.lineno + 1, f"{p}:{fn.lineno} {name}")
            for p, t in trees.items() for fn, name in functions(t)]
    return max(files), max(defs)


def collect(root: Path) -> list[tuple[str, str, int, list[str]]]:
    """(name, one-line definition, figure, places behind it) for every count."""
    files = source_files(root)
    trees = {p: t for p, t in files.items() if t is not None}
    package = {p: t for p, t in trees.items() if in_dirs(p, package_dirs(root))}
    ours, foreign = attribute_probes(package, own_attribute_names(package))
    (file_lines, big_file), (def_lines, big_def) = largest(root, package)
    counts = [
        ("caption step sites", "defs calling <..captioner..>.caption(/.caption_batch( or CaptionRequest( "
         "(outside tools/captioners, tests, benchmarks)", caption_step_sites(trees)),
        ("indexing entry points", "classes/functions that build memory themselves: call build_level / "
         "caption_level / build_speech (not on an indexer), or caption a whole level grid; callers of the "
         "Indexer are not counted (outside tests, benchmarks)", indexing_entry_points(trees)),
        ("getattr/hasattr probes of our own types", "constant-name getattr/hasattr in package code, "
         "the name defined by some class of ours", ours),
        ("getattr/hasattr probes of foreign objects", "the other constant-name getattr/hasattr in package code",
         foreign),
        ("dict-typed state channels", "AgentState fields typed dict, dict[..], list[dict..] or Any",
         dict_state_channels(trees)),
        ("progress: bool parameters", "package defs with a parameter `progress: bool`",
         param_sites(package, lambda a: a.arg == "progress" and a.annotation and ast.unparse(a.annotation) == "bool")),
        ("meter parameters", "package defs with a parameter named meter",
         param_sites(package, lambda a: a.arg == "meter")),
        ("unannotated memory parameters", "package defs with a parameter `memory` without annotation",
         param_sites(package, lambda a: a.arg == "memory" and a.annotation is None)),
        ("unparseable files", "files skipped because ast could not parse them (the counts miss them)",
         [p for p, t in files.items() if t is None]),
    ]
    return [(name, d, len(places), places) for name, d, places in counts] + [
        ("largest file (lines)", "package code file with the most lines", file_lines, [big_file]),
        ("largest function (lines)", "package code def with the most lines (end_lineno - lineno + 1)",
         def_lines, [big_def])]


def render(root: Path, counts, detail: bool) -> str:
    out = [f"architecture counts for {root}"]
    for name, definition, figure, places in counts:
        single = f" ({places[0]})" if name.startswith("largest") else ""
        out.append(f"{name + ':':45} {figure}{single}   -- {definition}")
        out += [f"    {p}" for p in places if detail and not single]
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", nargs="?", default=Path(__file__).resolve().parent.parent, type=Path)
    parser.add_argument("--json", action="store_true", help="print figures, definitions and places as JSON")
    parser.add_argument("--detail", action="store_true", help="list the places (file:line def) behind each count")
    args = parser.parse_args()
    root = args.root.resolve()
    counts = collect(root)
    if args.json:
        print(json.dumps({name: {"definition": d, "value": figure, "places": places}
                          for name, d, figure, places in counts}, indent=2))
    else:
        print(render(root, counts, args.detail))


if __name__ == "__main__":
    main()
