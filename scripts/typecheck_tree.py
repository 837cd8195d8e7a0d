"""Lay out the package as it is imported, for mypy: build/typecheck/vidrecall/... made of symlinks.

pyproject's [tool.setuptools] package-dir maps folders to import names (core/ -> vidrecall.core, ...), and
the editable install serves that mapping through an import hook, which mypy cannot follow. This mirrors the
same mapping as a tree of symlinks (rebuilt on every run, so new files and folders are picked up) that
[tool.mypy] mypy_path points at. With --unmap it is a filter instead: it rewrites the tree's paths in mypy's
messages (stdin) back to the real files (scripts/typecheck.sh pipes mypy through it).
"""

from __future__ import annotations

import os
import re
import shutil
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TREE = ROOT / "build" / "typecheck"


def unmap() -> int:
    """Copy stdin to stdout with each build/typecheck/... path at a line's start replaced by the real file's."""
    tree = re.compile(r"^(build/typecheck/[^:\s]+)")

    def real(match: re.Match[str]) -> str:
        return os.path.relpath(os.path.realpath(ROOT / match.group(1)), ROOT)

    for line in sys.stdin:
        sys.stdout.write(tree.sub(real, line))
    return 0


def main() -> int:
    if sys.argv[1:] == ["--unmap"]:
        return unmap()
    mapping: dict[str, str] = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-dir"
    ]
    if TREE.exists():
        shutil.rmtree(TREE)
    TREE.mkdir(parents=True)
    # Shallowest packages first: a parent's folder is laid before its children are mapped into it.
    for name, folder in sorted(mapping.items(), key=lambda kv: kv[0].count(".")):
        source = (ROOT / folder).resolve()
        target = TREE.joinpath(*name.split("."))
        if target.exists() and target.resolve() == source:
            continue  # already there through its parent's link (e.g. agent/strategies under agent/)
        if target.is_symlink():
            target.unlink()  # an entry of the parent's folder that package-dir maps elsewhere
        elif target.exists():
            sys.exit(f"typecheck_tree: {target} clashes with package-dir {name!r} = {folder!r}")
        if any(other.startswith(name + ".")
               and (ROOT / f).resolve() != source.joinpath(*other[len(name) + 1:].split("."))
               for other, f in mapping.items()):
            # some subpackage lives outside this folder: a real folder with this folder's entries linked in
            target.mkdir(parents=True)
            for entry in source.iterdir():
                if entry.name != "__pycache__":
                    (target / entry.name).symlink_to(entry)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.symlink_to(source, target_is_directory=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
