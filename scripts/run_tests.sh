#!/usr/bin/env bash
# Set up (if needed) and run the whole test suite, slow tests included. Extra args go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
set +e
python -m pytest "$@"
rc=$?
set -e
# pytest exits 5 when no test was collected: treat that as a failure of the suite, not a pass.
exit $rc
