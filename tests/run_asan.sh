#!/usr/bin/env bash
# Build the compiled kernels with AddressSanitizer and run the kernel tests under it.
#
#   bash tests/run_asan.sh            (about 2-4 minutes on 2 cores)
#
# Works on a scratch copy of the project, so your normal build is left alone.
# Python itself is not instrumented, so libasan is preloaded; leak detection is off
# (CPython keeps memory alive on purpose). Any out-of-bounds read or write in a
# kernel aborts the run with a report naming the C line.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
git -C "$here" ls-files --cached --others --exclude-standard | tar -C "$here" -cf - -T - | tar -C "$work" -xf -
cd "$work"
echo "building with -fsanitize=address in $work"
TINYGRAD_EDU_ASAN=1 python setup.py -q build_ext --inplace 2>&1 | grep -v -i warning || true
python -c "import glob, sys; sys.exit(0 if len(glob.glob('tinygrad_edu/kernels/_*.so')) >= 1 else 'the ASan build produced no extension')"
LIBASAN=$(gcc -print-file-name=libasan.so)
export LD_PRELOAD="$LIBASAN" ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:allocator_may_return_null=1"
export TINYGRAD_EDU_BACKEND=compiled
# NumPy's arrays come straight from malloc, so ASan sees each one's exact end (the
# memory pool would hand out page-rounded blocks and hide an overrun past the end).
export TINYGRAD_EDU_MEMPOOL=0
# (test_kernels_build.py is left out: it builds and starts fresh interpreters of its
# own, which the preloaded, uninstrumented ASan runtime cannot follow.)
python -m pytest -q -p no:cacheprovider -x $(ls tests/test_kernels_*.py | grep -v _build) \
    tests/test_tensor_ops.py $(ls tests/test_attention.py 2>/dev/null)
echo "AddressSanitizer: clean"
