#!/usr/bin/env bash
# Set up (if needed), build a short sample video from the shared clips (or a synthetic one), index
# it and ask a question with the offline profile. The store lives in ./.vidrecall/demo-store.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
export VIDRECALL_STORE=${VIDRECALL_STORE:-$PWD/.vidrecall/demo-store}
python -m vidrecall.demo "$@"
