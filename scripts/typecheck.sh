#!/usr/bin/env bash
# Type-check the package with mypy ([tool.mypy] in pyproject.toml says how strict); CI runs it before the tests.
# Sets up .venv first like run_tests.sh (mypy and the stubs come with the [dev] extra). Extra args go to mypy.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
python scripts/typecheck_tree.py  # build/typecheck/vidrecall: the folders laid out under their import names
python -m mypy -p vidrecall "$@" | python scripts/typecheck_tree.py --unmap  # paths back to the real files
