#!/usr/bin/env bash
# Type-check the package with mypy ([tool.mypy] in pyproject.toml says how strict). Extra args go to mypy.
# Uses the active virtual environment, else .venv (scripts/setup.sh makes it, mypy comes with the [dev] extra).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${VIRTUAL_ENV:-}" ]; then . "${VIDRECALL_VENV:-.venv}/bin/activate"; fi
python scripts/typecheck_tree.py  # build/typecheck/vidrecall: the package as it is imported (see pyproject)
python -m mypy -p vidrecall "$@" | python scripts/typecheck_tree.py --unmap
