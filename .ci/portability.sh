#!/usr/bin/env bash
# Portability of the compiled kernels, proved on this Linux x86-64 machine:
#   (a) clang builds a clean copy of the tree, without OpenMP and with libomp; the
#       kernel and op tests pass on the libomp build, the smoke tests on the other.
#   (b) arm64: every kernel in csrc/ cross-compiles with aarch64-linux-gnu-gcc and with
#       clang --target=aarch64-linux-gnu, and tests/arm64/driver.c checks the kernels
#       against the NumPy twins' outputs under qemu-aarch64 (1 and 2 threads, f32/f64).
#   (c) the sdist (`python -m build --sdist`) installed with pip into a fresh venv of
#       another Python (PYVERSIONS, default 3.9 to keep CI short; run
#       PYVERSIONS="3.9 3.10 3.12 3.13" by hand for the full matrix): the kernels build
#       from the sdist alone.
#   (d) the wheel (CI's, TINYGRAD_EDU_WHEEL, else built here from the sdist): what it
#       carries, installed into a clean venv and tested from outside the source tree.
# Needs: clang, libomp-dev, gcc-aarch64-linux-gnu, qemu-user, pyenv Pythons, network
# for pip. macOS and Windows are not testable here (tests/test_kernels_build.py checks
# setup.py's decisions for them with a faked platform).
set -euo pipefail

ROOT=$(pwd)
PY=${PYTHON:-python}
PYVERSIONS=${PYVERSIONS:-3.9}
STAGES=${STAGES:-abcd}  # e.g. STAGES=d bash .ci/portability.sh: only the sdist/wheel stage
# STAGES=arm64-python: the package itself on an aarch64 CPython under qemu (at the end)
ARM64_PYTHON=0
if [[ $STAGES == *arm64-python* ]]; then ARM64_PYTHON=1; STAGES=${STAGES//arm64-python/}; fi
WORK=$(mktemp -d /tmp/tg_portability.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
T0=$SECONDS
stage() { echo; echo "=== [$((SECONDS - T0))s] $*"; }
KERNEL_TESTS="tests/test_kernels_reduce.py tests/test_kernels_softmax.py tests/test_kernels_nn.py tests/test_kernels_naive.py
  tests/test_kernels_optim.py tests/test_kernels_gemm.py tests/test_kernels_unaligned.py
  tests/test_kernels_build.py tests/test_tensor_ops.py tests/test_attention.py"
SMOKE_TESTS="tests/test_kernels_reduce.py tests/test_kernels_optim.py tests/test_tensor_ops.py"

# A clean copy: the committed tree plus uncommitted edits of tracked files, no build artefacts.
clean_copy() {
  mkdir -p "$1"
  git ls-files -z | xargs -0 tar -cf - 2>/dev/null | tar -xf - -C "$1"
}

check_compiled() {  # $1 python, $2 expected openmp (True/False); run outside the source tree
  (cd "$WORK" && "$1" - "$2" <<'PY'
import sys
import tinygrad_edu as tg
i = tg.info()
print("  ", tg.__file__, i["backend"], "openmp:", i["openmp"], i["build"].get("compiler", "?"))
assert i["backend"] == "compiled", i["compiled_error"]
assert not i["module_errors"], i["module_errors"]
assert all(v.startswith("compiled") or "by design" in v for v in i["kernels"].values()), i["kernels"]
assert str(i["openmp"]) == sys.argv[1], (i["openmp"], sys.argv[1])
PY
  )
}

# ---------------------------------------------------------------------------------- (a)
if [[ $STAGES == *a* ]]; then  # an in-place build needs the build requirements here (pip -e isolates them)
  "$PY" -m pip install -q "setuptools>=77" wheel "Cython>=3.0" numpy
fi
for omp in 0 1; do
  [[ $STAGES == *a* ]] || break
  stage "(a) clang build, OpenMP=$omp"
  d=$WORK/clang$omp
  clean_copy "$d"
  (cd "$d" && CC=clang LDSHARED="clang -shared" TINYGRAD_EDU_NO_OPENMP=$((1 - omp)) \
    "$PY" setup.py build_ext --inplace -q > build.log 2>&1) || { tail -30 "$d/build.log"; exit 1; }
  grep -q '"compiler": "clang' "$d/tinygrad_edu/kernels/_build_report.json" \
    || { echo "the clang build wrote no report:"; tail -30 "$d/build.log"; exit 1; }
  want=$([ $omp = 1 ] && echo True || echo False)
  (cd "$d" && "$PY" - "$want" <<'PY'
import os
import sys
import tinygrad_edu as tg
i = tg.info()
print("  ", tg.__file__, i["backend"], "openmp:", i["openmp"], i["build"]["compiler"].split()[0])
assert tg.__file__.startswith(os.getcwd()), tg.__file__
assert i["backend"] == "compiled" and not i["module_errors"], i
assert str(i["openmp"]) == sys.argv[1]
PY
  )
  # the kernel tests on the OpenMP build (threads included), the smoke tests on the other
  tests=$([ $omp = 1 ] && echo "$KERNEL_TESTS" || echo "$SMOKE_TESTS")
  # shellcheck disable=SC2086
  (cd "$d" && "$PY" -m pytest -q -p no:cacheprovider $tests 2>&1 | tail -3)  # pipefail: pytest's status
done

# ---------------------------------------------------------------------------------- (b)
if [[ $STAGES == *b* ]]; then
stage "(b) arm64: cross-compile every kernel, run the driver under qemu-aarch64"
"$PY" tests/arm64/make_cases.py "$WORK/cases"
SRC=$(ls csrc/*.c)
DRIVER_SRC=$(ls csrc/*.c | grep -v mempool.c)
for cc in "aarch64-linux-gnu-gcc -fopenmp" "clang --target=aarch64-linux-gnu -DTG_NO_OPENMP -ffp-contract=off"; do
  echo "  $cc"
  for c in $SRC; do  # every translation unit, warnings as errors
    $cc -O3 -std=c11 -fno-strict-aliasing -Wall -Werror -Wno-unused-function -Icsrc -c "$c" \
      -o "$WORK/$(basename "$c").o"
  done
  # shellcheck disable=SC2086
  $cc -O3 -std=c11 -fno-strict-aliasing -Icsrc tests/arm64/driver.c $DRIVER_SRC -lm -o "$WORK/driver"
  qemu-aarch64 -L /usr/aarch64-linux-gnu "$WORK/driver" "$WORK/cases"
done
fi

# ------------------------------------------------------------------------------ (c), (d)
# One sdist (python -m build --sdist: no compiling), checked for what it must and must not
# carry; (c) installs it with each Python of PYVERSIONS (pip builds the kernels from the
# sdist alone); (d) checks the wheel (CI's own, TINYGRAD_EDU_WHEEL, else one built here
# from the sdist) and installs it into a clean venv. Each is tested from outside the tree.
if [[ $STAGES == *c* || $STAGES == *d* ]]; then
stage "(c, d) the sdist: python -m build --sdist"
d=$WORK/dist
clean_copy "$d/src"
"$PY" -m pip install -q build
(cd "$d/src" && "$PY" -m build --sdist -o "$d/out" > "$d/build.log" 2>&1) || { tail -30 "$d/build.log"; exit 1; }
sdist=$(ls "$d"/out/*.tar.gz)
echo "  $sdist"
tar -tzf "$sdist" > "$d/sdist.txt"  # a file, not a pipe: grep -q would SIGPIPE tar under pipefail
for must in csrc/gemm.c csrc/tg_vec.h tinygrad_edu/kernels/_gemm.pyx tinygrad_edu/data/tinyshakespeare.txt.gz MANIFEST.in tests/arm64/driver.c; do
  grep -q "/$must\$" "$d/sdist.txt" || { echo "sdist lacks $must"; exit 1; }
done
if grep -qE '\.so$|_build_report.json$' "$d/sdist.txt"; then echo "sdist carries build artefacts"; exit 1; fi
fi

# smoke_test VENV: the installed package, its tests run from outside the source tree
smoke_test() {
  check_compiled "$1/bin/python" True
  local run=$1/run && mkdir -p "$run" && cp -r "$ROOT/tests" "$run/tests"
  # shellcheck disable=SC2086
  (cd "$run" && "$1/bin/python" -m pytest -q -p no:cacheprovider $SMOKE_TESTS 2>&1 | tail -2)
}

for v in $PYVERSIONS; do
  [[ $STAGES == *c* ]] || break
  stage "(c) the sdist installed with Python $v"
  pybin=$(ls -d "$HOME"/.pyenv/versions/"$v"*/bin/python | head -1)
  "$pybin" -m venv "$d/venv$v"
  "$d/venv$v/bin/pip" install -q "$sdist" pytest hypothesis > "$d/pip$v.log" 2>&1 || { tail -30 "$d/pip$v.log"; exit 1; }
  smoke_test "$d/venv$v"
done

if [[ $STAGES == *d* ]]; then
stage "(d) the wheel: its contents, installed into a clean venv"
wheel=${TINYGRAD_EDU_WHEEL:-}
if [[ -z $wheel ]]; then
  "$PY" -m pip wheel -q --no-deps "$sdist" -w "$d/out" > "$d/wheel.log" 2>&1 || { tail -30 "$d/wheel.log"; exit 1; }
  wheel=$(ls "$d"/out/*.whl)
fi
echo "  $wheel"
python -m zipfile -l "$wheel" > "$d/wheel.txt"
grep -q "tinygrad_edu/kernels/_gemm" "$d/wheel.txt" || { echo "the wheel has no compiled _gemm"; exit 1; }
grep -q "tinygrad_edu/exercises/templates/" "$d/wheel.txt" || { echo "the wheel has no exercise templates"; exit 1; }
if grep -qE '(^| )tests/' "$d/wheel.txt"; then echo "the wheel carries the tests"; exit 1; fi
"$PY" -m venv "$d/venv_whl"
"$d/venv_whl/bin/pip" install -q "$wheel" pytest hypothesis > "$d/pip_whl.log" 2>&1 || { tail -30 "$d/pip_whl.log"; exit 1; }
smoke_test "$d/venv_whl"
fi

# ------------------------------------------------------------------------ (arm64-python)
# The package itself on arm64: Debian's arm64 python3.11 unpacked (dpkg -x) into a sysroot
# (nothing installed over this machine's Python), NumPy and the test tools from PyPI's
# aarch64 wheels, our Cython modules cross-compiled against that Python's headers
# (tests/arm64/cross_build.py: setup.py's own flags, with aarch64-linux-gnu-gcc), and the
# tests run by that Python under qemu-aarch64: kernels against their NumPy twins, GPT
# training steps and generation. Downloads are kept in ARM64_CACHE for the next run.
if [[ $ARM64_PYTHON == 1 ]]; then
stage "(arm64-python) the package on an aarch64 CPython, under qemu-aarch64"
need=()
command -v qemu-aarch64 >/dev/null || need+=(qemu-user)
command -v aarch64-linux-gnu-gcc >/dev/null || need+=(gcc-aarch64-linux-gnu libc6-dev-arm64-cross)
if ((${#need[@]})); then
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${need[@]}" >/dev/null
fi
cache=${ARM64_CACHE:-$HOME/.cache/tinygrad_edu_arm64}
arm=$WORK/arm64
mkdir -p "$cache/apt/lists/partial" "$cache/apt/cache/archives/partial" "$arm/sysroot"
touch "$cache/apt/status"  # an empty dpkg status: apt resolves every dependency for arm64
apt_arm64=(-o APT::Architecture=arm64 -o APT::Architectures::=arm64 -o Debug::NoLocking=1
  -o Dir::State::Lists="$cache/apt/lists" -o Dir::Cache="$cache/apt/cache"
  -o Dir::State::status="$cache/apt/status" -o APT::Sandbox::User=root)
apt-get -q "${apt_arm64[@]}" update >/dev/null
apt-get -q -y "${apt_arm64[@]}" install --download-only --no-install-recommends \
  python3.11 libpython3.11-dev libgomp1 libstdc++6 >/dev/null
for deb in "$cache"/apt/cache/archives/*.deb; do dpkg -x "$deb" "$arm/sysroot"; done
wheel_tags=(--platform manylinux2014_aarch64 --platform manylinux_2_17_aarch64
  --platform manylinux_2_28_aarch64 --python-version 3.11 --implementation cp
  --abi cp311 --abi abi3 --abi none --only-binary=:all:)
arm_pkgs=(numpy pytest hypothesis safetensors tqdm)
"$PY" -m pip download -q -d "$cache/wheels" "${wheel_tags[@]}" "${arm_pkgs[@]}"
"$PY" -m pip install -q --target "$arm/site" --no-index --find-links "$cache/wheels" \
  "${wheel_tags[@]}" "${arm_pkgs[@]}"
clean_copy "$arm/src"
"$PY" -m pip install -q "Cython>=3.0"  # cythonize here; the C is compiled for arm64
"$PY" "$arm/src/tests/arm64/cross_build.py" "$arm/src" "$arm/sysroot" \
  "$arm/site/numpy/_core/include"
printf '%s\n' '#!/usr/bin/env bash' \
  '# the arm64 CPython, run by qemu-aarch64 (-L: its libraries and stdlib from the sysroot)' \
  "PYTHONPATH=\"$arm/site:$arm/src\" exec qemu-aarch64 -L \"$arm/sysroot\" \\" \
  "  \"$arm/sysroot/usr/bin/python3.11\" \"\$@\"" >"$arm/python"
chmod +x "$arm/python"
"$arm/python" -c "import platform, sys; print('  platform.machine():', platform.machine(), \
'| Python', sys.version.split()[0])"
check_compiled "$arm/python" True
# the base ISA on arm64 is NEON: the GEMM's inner loop is vector fused multiply-adds
neon=$(aarch64-linux-gnu-objdump -d "$arm"/src/tinygrad_edu/kernels/_gemm.*aarch64*.so \
  | grep -cE 'fmla[[:space:]]+v[0-9]+\.4s' || true)
echo "  NEON in _gemm: $neon fmla vN.4s instructions"
((neon > 0)) || { echo "the arm64 GEMM has no NEON vector instructions"; exit 1; }
ARM64_TESTS=${ARM64_TESTS:-"tests/test_kernels_reduce.py tests/test_kernels_naive.py
  tests/test_kernels_nn.py tests/test_gpt.py"}
# shellcheck disable=SC2086
(cd "$arm/src" && OMP_NUM_THREADS=2 "$arm/python" -m pytest -q -p no:cacheprovider $ARM64_TESTS) \
  >"$arm/pytest.log" 2>&1 || { tail -40 "$arm/pytest.log"; exit 1; }
summary=$(tail -1 "$arm/pytest.log")
echo "  pytest on aarch64: $summary"
passed=$(grep -oE '[0-9]+ passed' <<<"$summary" | grep -oE '[0-9]+' || echo 0)
((passed >= 200)) || { echo "only $passed tests passed on aarch64 (at least 200 expected)"; exit 1; }
fi

stage "portability: stages $STAGES passed in $((SECONDS - T0))s"
