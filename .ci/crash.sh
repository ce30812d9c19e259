#!/usr/bin/env bash
# Crash test of train-gpt's checkpoints (issue 12), kept short for CI: 8 tiny runs killed
# at random moments (SIGKILL, some SIGINT), each folder checked, resumed and compared with
# an uninterrupted run (tests/crash_kill.py; run it without --quick for the 50-trial test).
# Needs no standard input; exits non-zero if any invariant fails.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
"$PY" tests/crash_kill.py --quick --trials "${CRASH_TRIALS:-8}" --seed "${CRASH_SEED:-0}" </dev/null
