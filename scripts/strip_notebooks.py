#!/usr/bin/env python
"""Strip outputs, execution counts and run metadata from notebooks, so that git holds only their source.

    python scripts/strip_notebooks.py                 # strip every notebooks/*.ipynb in place
    python scripts/strip_notebooks.py a.ipynb b.ipynb # strip these
    python scripts/strip_notebooks.py --check         # exit 1 and name the notebooks that still carry outputs
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

REPO = Path(__file__).resolve().parents[1]
RUN_METADATA = ("execution", "collapsed", "scrolled", "ExecuteTime")
NOTEBOOK_RUN_METADATA = ("widgets", "papermill")


def strip(nb: nbformat.NotebookNode) -> bool:
    """Remove what running left behind; True when anything changed."""
    changed = False
    for cell in nb.cells:
        for key in RUN_METADATA:
            changed |= cell.metadata.pop(key, None) is not None
        if cell.cell_type == "code":
            changed |= bool(cell.outputs) or cell.execution_count is not None
            cell.outputs, cell.execution_count = [], None
    for key in NOTEBOOK_RUN_METADATA:
        changed |= nb.metadata.pop(key, None) is not None
    return changed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("paths", nargs="*", type=Path, help="notebooks (default: notebooks/*.ipynb)")
    parser.add_argument("--check", action="store_true", help="change nothing; fail when a notebook has outputs")
    args = parser.parse_args(argv)
    paths = args.paths or sorted((REPO / "notebooks").glob("*.ipynb"))
    dirty = []
    for path in paths:
        try:
            nb = nbformat.read(path, as_version=4)
        except (OSError, ValueError) as exc:  # nbformat's NotJSONError is a ValueError
            print(f"{path}: cannot read this notebook ({str(exc).splitlines()[0]})", file=sys.stderr)
            return 2
        if strip(nb):
            dirty.append(path)
            if not args.check:
                nbformat.write(nb, path)
    verb = "carry outputs (run scripts/strip_notebooks.py)" if args.check else "stripped"
    for path in dirty:
        print(f"{path}: {verb}")
    return 1 if args.check and dirty else 0


if __name__ == "__main__":
    sys.exit(main())
