#!/usr/bin/env bash
# Set up (if needed), then the type check and the whole test suite, slow tests included. Extra args go to pytest.
# The type check (scripts/typecheck.sh, mypy) runs beside pytest at low priority: on 2 cores it costs the suite
# little wall time, where running it first added ~100 s. A type error fails the run like a failing test.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
mkdir -p build
nice -n 10 bash scripts/typecheck.sh > build/typecheck.log 2>&1 &
typecheck=$!
set +e
python -m pytest "$@"
rc=$?
wait "$typecheck"
typed=$?
set -e
if [ "$typed" -ne 0 ]; then
  cat build/typecheck.log
  echo "run_tests: the type check failed (scripts/typecheck.sh, output above)" >&2
  [ "$rc" -eq 0 ] && rc=1
else
  tail -1 build/typecheck.log
fi
# pytest exits 5 when no test was collected: treat that as a failure of the suite, not a pass.
exit $rc
