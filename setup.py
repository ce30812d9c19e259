"""Build the compiled kernels of tinygrad_edu.

Every ``tinygrad_edu/kernels/_*.pyx`` becomes one extension module; the C files it
needs are named in its own header (``# distutils: sources = csrc/...``).

How the build stays portable (a wheel must run on other CPUs):
  * host-specific flags (-march=native) are opt-in only. Each SIMD kernel is compiled several times in
    one C file -- for the baseline, for AVX2+FMA and for AVX-512 -- with
    ``#pragma GCC target`` (see csrc/tg_isa.h), and the kernel picks the best
    variant the running CPU supports (``__builtin_cpu_supports``).
  * ``TINYGRAD_EDU_NATIVE=1`` is that opt-in (-march=native), for your own machine only.
  * OpenMP is used when the compiler has it; otherwise the kernels run on one
    thread and ``tinygrad_edu.info()["openmp"]`` says so.
  * If the extension cannot be built at all, installation still succeeds and the
    package runs on its readable NumPy reference path, with one warning.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from setuptools import setup
from setuptools.command.build_ext import build_ext


def _compiler_accepts(flags: list[str], source: str = "int main(void){return 0;}\n") -> bool:
    """True if the C compiler builds and links a tiny program with `flags`."""
    cc = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    cc = cc.split()
    if shutil.which(cc[0]) is None:
        return False
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "probe.c")
        with open(src, "w") as f:
            f.write(source)
        cmd = [*cc, src, "-o", os.path.join(tmp, "probe"), *flags]
        try:
            res = subprocess.run(
                cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60
            )
        except (OSError, subprocess.SubprocessError):
            return False
        return res.returncode == 0


OPENMP_PROBE = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"


def _build_flags() -> tuple[list[str], list[str], list[tuple[str, str]]]:
    """Compile flags, link flags and macros for every kernel module."""
    if sys.platform == "win32":  # MSVC: no OpenMP pragmas of the kind we use, no -O3
        return ["/O2"], [], [("TG_NO_OPENMP", "1")]
    # ISO C11 keeps `a * b + c` as two roundings (no implicit FMA contraction), so a kernel
    # can match its NumPy twin bit for bit (the optimizer update does); kernels that want
    # a fused multiply-add call it explicitly (tg_vec.h / tg_exp.h helpers).
    compile_args = ["-O3", "-std=c11", "-fno-strict-aliasing", "-Wno-unused-function"]
    link_args: list[str] = []
    macros: list[tuple[str, str]] = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if os.environ.get("TINYGRAD_EDU_NATIVE") == "1":
        print("tinygrad_edu: TINYGRAD_EDU_NATIVE=1 (opt-in): building for this CPU only")
        compile_args.append("-march=native")  # only on this opt-in (environ check above)
    if os.environ.get("TINYGRAD_EDU_ASAN") == "1":  # see tests/run_asan.sh
        compile_args += ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g"]
        link_args += ["-fsanitize=address"]
    if os.environ.get("TINYGRAD_EDU_NO_OPENMP") != "1" and _compiler_accepts(
        ["-fopenmp"], OPENMP_PROBE
    ):
        compile_args.append("-fopenmp")
        link_args.append("-fopenmp")
    else:
        print(
            "tinygrad_edu: building WITHOUT OpenMP (the compiler lacks it); kernels run on one thread"
        )
        macros.append(("TG_NO_OPENMP", "1"))
    return compile_args, link_args, macros


class OptionalBuildExt(build_ext):
    """Build the kernels, but never fail the install: the reference path still works."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure falls back
            self._warn(exc)

    def build_extension(self, ext) -> None:
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            self._warn(exc, ext.name)

    @staticmethod
    def _warn(exc: Exception, name: str = "kernels") -> None:
        print(
            f"\nWARNING: tinygrad_edu could not build its compiled extension {name}: {exc}\n"
            "The package will run on the (slower) NumPy reference path.\n",
            file=sys.stderr,
        )


def _extensions() -> list:
    if os.environ.get("TINYGRAD_EDU_NO_EXTENSION") == "1":
        print("tinygrad_edu: TINYGRAD_EDU_NO_EXTENSION=1, installing the reference path only")
        return []
    try:
        from Cython.Build import cythonize
        from setuptools import Extension
    except ImportError as exc:
        print(f"tinygrad_edu: Cython is missing ({exc}); installing the reference path only")
        return []
    compile_args, link_args, macros = _build_flags()
    include_dirs = ["csrc"]
    try:  # NumPy's C headers: only _mempool.pyx uses them (the NEP 49 allocator API)
        import numpy

        include_dirs.append(numpy.get_include())
    except ImportError:
        print("tinygrad_edu: NumPy is missing at build time; _mempool will not build")
    exts = []
    for pyx in sorted(glob.glob("tinygrad_edu/kernels/_*.pyx")):
        name = pyx[:-4].replace("/", ".")
        exts.append(
            Extension(
                name,
                [pyx],  # the C sources come from the .pyx header (# distutils: sources = ...)
                include_dirs=include_dirs,
                depends=sorted(glob.glob("csrc/*.h")),  # a header edit rebuilds the kernels
                define_macros=macros,
                extra_compile_args=compile_args,
                extra_link_args=link_args,
            )
        )
    directives = {
        "language_level": "3",
        "boundscheck": False,  # bounds are validated in Python before a kernel runs
        "wraparound": False,
        "cdivision": True,
        "initializedcheck": False,
    }
    try:
        return cythonize(exts, compiler_directives=directives, quiet=True)
    except Exception as exc:  # noqa: BLE001
        OptionalBuildExt._warn(exc)
        return []


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
