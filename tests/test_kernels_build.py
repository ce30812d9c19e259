"""The build's decisions (setup.py) and honest fallbacks when a compiled module is missing.

setup.py's flag selection is a pure function of the platform, the environment, a
compiler probe and the file system, so macOS (Apple clang + Homebrew libomp) and
Windows (clang-cl or no extension) are checked here with fakes: they cannot be
built on this Linux machine. The fallback tests copy the installed package into a
temporary folder, hide one extension module, and import it in a fresh interpreter.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import tinygrad_edu
from tinygrad_edu import kernels

ROOT = Path(__file__).resolve().parents[1]


def _load_setup():
    spec = importlib.util.spec_from_file_location("tg_setup", ROOT / "setup.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # __name__ is not "__main__": setup() does not run
    return mod


setup_py = _load_setup()


def _accepts_only(*good):
    """A fake compiler probe that accepts exactly the flag lists in `good`."""
    calls = []

    def accepts(flags, source=""):
        calls.append(list(flags))
        return list(flags) in [list(g) for g in good]

    accepts.calls = calls
    return accepts


def test_pyx_headers_name_only_their_sources():
    """A `# distutils: define_macros = ...` (or include_dirs, extra_compile_args, ...) line
    in a .pyx REPLACES what setup.py gives that Extension: TG_NO_OPENMP was lost that way
    once, and a build without OpenMP failed to load (undefined symbol omp_get_max_threads).
    Only `sources` may come from a .pyx header; the flags come from setup.py."""
    for pyx in sorted((ROOT / "tinygrad_edu" / "kernels").glob("_*.pyx")):
        keys = [
            line.split(":", 1)[1].split("=", 1)[0].strip()
            for line in pyx.read_text().splitlines()
            if line.startswith("# distutils:")
        ]
        assert keys and set(keys) == {"sources"}, f"{pyx.name}: # distutils: {keys}"


def test_linux_gcc_flags_unchanged():
    f = setup_py.build_flags("linux", {}, _accepts_only(["-fopenmp"]), is_clang=False)
    assert f["compile_args"] == [
        "-O3", "-std=c11", "-fno-strict-aliasing", "-Wno-unused-function", "-fopenmp"
    ]  # fmt: skip
    assert f["link_args"] == ["-fopenmp"] and f["openmp"]
    assert ("TG_NO_OPENMP", "1") not in f["macros"]


def test_clang_turns_off_contraction_and_builds_without_openmp():
    f = setup_py.build_flags("linux", {}, _accepts_only(), is_clang=True)
    assert "-ffp-contract=off" in f["compile_args"]
    assert not f["openmp"] and ("TG_NO_OPENMP", "1") in f["macros"]
    assert "-fopenmp" not in f["compile_args"] + f["link_args"]
    assert "one thread" in f["openmp_note"]


def test_no_openmp_env_skips_the_probe():
    probe = _accepts_only(["-fopenmp"])
    f = setup_py.build_flags("linux", {"TINYGRAD_EDU_NO_OPENMP": "1"}, probe, is_clang=False)
    assert not f["openmp"] and probe.calls == []


def test_macos_homebrew_libomp_arm64():
    d = "/opt/homebrew/opt/libomp"
    want_c = ["-Xpreprocessor", "-fopenmp", f"-I{d}/include"]
    want_l = [f"-L{d}/lib", "-lomp"]
    probe = _accepts_only(want_c + want_l)
    dirs = {f"{d}/include", f"{d}/lib"}
    f = setup_py.build_flags(
        "darwin", {}, probe, is_clang=True, is_dir=dirs.__contains__, brew_prefix=lambda: None
    )
    assert f["openmp"] and f["compile_args"][-3:] == want_c and f["link_args"][-2:] == want_l
    assert "-std=gnu11" in f["compile_args"] and "-std=c11" not in f["compile_args"]
    assert probe.calls[0] == ["-fopenmp"]  # plain -fopenmp is tried first (Homebrew llvm)
    assert not any(a.startswith("-Wl,") for a in f["link_args"])  # nothing GNU-ld-only


def test_macos_brew_prefix_wins_and_intel_path_is_found():
    brew = "/somewhere/libomp"
    dirs = {f"{brew}/include", f"{brew}/lib", "/usr/local/opt/libomp/include",
            "/usr/local/opt/libomp/lib"}  # fmt: skip
    accept_any_libomp = lambda flags, src="": "-lomp" in flags  # noqa: E731
    f = setup_py.build_flags(
        "darwin", {}, accept_any_libomp, True, is_dir=dirs.__contains__, brew_prefix=lambda: brew
    )
    assert f"-I{brew}/include" in f["compile_args"]
    dirs = {"/usr/local/opt/libomp/include", "/usr/local/opt/libomp/lib"}
    f = setup_py.build_flags(
        "darwin", {}, accept_any_libomp, True, is_dir=dirs.__contains__, brew_prefix=lambda: None
    )
    assert "-L/usr/local/opt/libomp/lib" in f["link_args"]


def test_macos_without_libomp_builds_single_threaded_and_says_so():
    f = setup_py.build_flags(
        "darwin", {}, _accepts_only(), True, is_dir=lambda p: False, brew_prefix=lambda: None
    )
    assert not f["openmp"] and ("TG_NO_OPENMP", "1") in f["macros"]
    assert "brew install libomp" in f["openmp_note"]


def test_windows_uses_clang_cl_or_skips_with_a_reason():
    path, note = setup_py.windows_compiler(which=lambda name: r"C:\LLVM\bin\clang-cl.exe")
    assert path.endswith("clang-cl.exe") and "clang-cl" in note
    path, note = setup_py.windows_compiler(which=lambda name: None)
    assert path is None and "MSVC" in note and "\n" not in note
    f = setup_py.build_flags("win32", {}, _accepts_only(["-fopenmp"]), is_clang=True)
    assert ("TG_NO_OPENMP", "1") in f["macros"] and "/O2" in f["compile_args"]


def test_first_error_line():
    out = "csrc/x.c: In function 'f':\ncsrc/x.c:3:5: error: unknown type 'vf'\n  3 | vf a;\n"
    assert setup_py.first_error_line(out) == "csrc/x.c:3:5: error: unknown type 'vf'"
    assert setup_py.first_error_line("") == "(the compiler printed nothing)"


GOOD_C = """#include <Python.h>
static struct PyModuleDef m = {PyModuleDef_HEAD_INIT, "_good", NULL, -1, NULL};
PyMODINIT_FUNC PyInit__good(void) { return PyModule_Create(&m); }
"""


@pytest.mark.skipif(sys.platform == "win32", reason="builds with the Unix compiler driver")
def test_a_module_that_does_not_compile_is_named_with_the_compilers_first_error(tmp_path):
    """setup.py's build class on two tiny modules, built in parallel (its default), one of
    them broken: the good one builds and is copied in place, the broken one is reported
    with the compiler's first error line (not 'exit status 1'), and the build does not fail."""
    from setuptools import Distribution, Extension

    (tmp_path / "good.c").write_text(GOOD_C)
    (tmp_path / "bad.c").write_text(GOOD_C.replace("_good", "_bad") + "this is not C;\n")
    exts = [Extension("pkg._good", [str(tmp_path / "good.c")]),
            Extension("pkg._bad", [str(tmp_path / "bad.c")])]  # fmt: skip
    (tmp_path / "pkg").mkdir()
    dist = Distribution({"name": "pkg", "ext_modules": exts, "packages": ["pkg"]})
    dist.script_name = "setup.py"
    cmd = setup_py.OptionalBuildExt(dist)
    cmd.inplace = True
    cmd.build_temp = str(tmp_path / "build")
    cmd.build_lib = str(tmp_path / "lib")
    report = cmd.report = {}  # this instance's own report (the class's is the real build's)
    cwd = Path.cwd()
    try:
        import os

        os.chdir(tmp_path)
        cmd.ensure_finalized()
        assert cmd.parallel and cmd.parallel >= 1
        cmd.run()
    finally:
        os.chdir(cwd)
    assert report["modules"]["_good"] == "built"
    bad = report["modules"]["_bad"]
    assert "error" in bad and "bad.c:4" in bad and "exit status" not in bad, bad
    assert list((tmp_path / "pkg").glob("_good*")), "the good module was not copied in place"
    assert not list((tmp_path / "pkg").glob("_bad*"))
    saved = json.loads((tmp_path / "pkg" / "_build_report.json").read_text())
    assert saved["modules"]["_bad"] == bad


# --- a module missing at run time --------------------------------------------------------


def _copy_without(tmp_path: Path, module: str, report: dict | None) -> Path:
    src = Path(tinygrad_edu.__file__).parent
    dst = tmp_path / "tinygrad_edu"
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", f"{module}.*.so",
                                                            f"{module}.*.pyd"))  # fmt: skip
    if report is not None:
        (dst / "kernels" / "_build_report.json").write_text(json.dumps(report))
    return tmp_path


def _run(cwd: Path, code: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-W", "always", "-c", code], cwd=cwd, capture_output=True, text=True,
        env={"PATH": "/usr/bin:/bin", "TINYGRAD_EDU_MEMPOOL": "0"}, timeout=120,
    )  # fmt: skip


needs_compiled = pytest.mark.skipif(kernels.compiled is None, reason="compiled kernels not built")


@needs_compiled
def test_missing_gemm_module_is_named_and_only_its_kernels_fall_back(tmp_path):
    err = "csrc/gemm.c:12:1: error: expected ';' before '}' token"
    cwd = _copy_without(tmp_path, "_gemm", {"modules": {"_gemm": f"gcc: {err}"}})
    code = (
        "import numpy as np, tinygrad_edu as tg\n"
        "from tinygrad_edu import kernels\n"
        f"assert tg.__file__.startswith({str(cwd)!r}), tg.__file__\n"
        "c = kernels.compiled\n"
        "t = tg.info()['kernels']\n"
        "print('TABLE', t['gemm'], '|', t['dot'])\n"
        "a = np.arange(6.0).reshape(2, 3); b = np.ones((3, 2))\n"
        "assert np.allclose(c.gemm(a, b), a @ b)\n"
        "assert c.gemm is kernels.reference.gemm and c.dot is not kernels.reference.dot\n"
        "print('ERR', tg.info()['module_errors']['_gemm'])\n"
    )
    res = _run(cwd, code)
    assert res.returncode == 0, res.stderr
    out = res.stdout + res.stderr
    assert "compiled kernel module _gemm did not load" in res.stderr
    assert err in res.stderr  # the compiler's first error line, from the build report
    assert "No module named 'tinygrad_edu.kernels._gemm'" in out  # the real ImportError
    assert "circular" not in out
    assert "TABLE reference (_gemm did not load) | compiled (_core)" in res.stdout


@needs_compiled
def test_missing_core_module_falls_back_whole_and_says_why(tmp_path):
    cwd = _copy_without(tmp_path, "_core", None)
    code = (
        "import tinygrad_edu as tg\n"
        "i = tg.info()\n"
        "print('BACKEND', i['backend'], '|', i['compiled_error'])\n"
        "print('TABLE', i['kernels']['gemm'])\n"
    )
    res = _run(cwd, code)
    assert res.returncode == 0, res.stderr
    assert "BACKEND reference | compiled kernel module _core did not load" in res.stdout
    assert "No module named 'tinygrad_edu.kernels._core'" in res.stdout
    assert "TABLE reference (no compiled extension)" in res.stdout
    assert "circular" not in res.stdout + res.stderr


@pytest.mark.parametrize("bad", [0, -1, 2**31, 2**63])
def test_set_num_threads_rejects_out_of_range(bad):
    before = tinygrad_edu.get_num_threads()
    with pytest.raises(ValueError, match="number of threads must be"):
        tinygrad_edu.set_num_threads(bad)
    assert tinygrad_edu.get_num_threads() == before


@pytest.mark.parametrize("bad", [2.0, "2", None, True])
def test_set_num_threads_rejects_non_int(bad):
    with pytest.raises(TypeError, match="must be an int"):
        tinygrad_edu.set_num_threads(bad)


def test_info_reports_build_and_kernel_table():
    i = tinygrad_edu.info()
    assert set(i["kernels"]) == set(kernels.interface.KERNELS)
    if kernels.compiled is not None:
        assert i["kernels"]["gemm"] == "compiled (_gemm)"
        assert i["kernels"]["matmul_naive"] == "reference (by design)"
    assert set(i["omp_wait_policy"]) == {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "KMP_BLOCKTIME"}


_H = np.ones((4, 4), np.float16)
_V16 = np.ones(4, np.float16)
FLOAT16_CALLS = {
    "dot": lambda m: m.dot(_V16, _V16),
    "colsum": lambda m: m.colsum(_H),
    "add": lambda m: m.add(_H, _H),
    "layer_norm": lambda m: m.layer_norm(_H, None, None, 1e-5),
    "gemm": lambda m: m.gemm(_H, _H),
    "softmax": lambda m: m.softmax(_H),
    "log_softmax": lambda m: m.log_softmax(_H),
    "softmax_backward": lambda m: m.softmax_backward(_H, _H),
    "gelu": lambda m: m.gelu(_H),
    "gelu_backward": lambda m: m.gelu_backward(_H, _H),
    "sgd_update": lambda m: m.sgd_update(_H.copy(), _H, None, 0.1, 0.0, 0.0, 0.0, False, True),
    "embedding_backward": lambda m: m.embedding_backward(np.zeros(4, np.int64), _H, 4),
    "sum_squares": lambda m: m.sum_squares([_H]),
}


@pytest.mark.parametrize("kernel", sorted(FLOAT16_CALLS))
def test_float16_rejected_the_same_way_by_both_backends(kernel):
    backends = [kernels.reference] + ([kernels.compiled] if kernels.compiled else [])
    messages = []
    for m in backends:
        with pytest.raises(TypeError, match="must be float32 or float64, got float16") as e:
            FLOAT16_CALLS[kernel](m)
        messages.append(str(e.value))
    assert len(set(messages)) == 1, messages
