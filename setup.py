"""Build the compiled kernels of tinygrad_edu.

Every ``tinygrad_edu/kernels/_*.pyx`` becomes one extension module; the C files it
needs are named in its own header (``# distutils: sources = csrc/...``).

How the build stays portable (a wheel must run on other CPUs):
  * host-specific flags (-march=native) are opt-in only. Each SIMD kernel is compiled several times in
    one C file -- for the baseline, for AVX2+FMA and for AVX-512 -- with
    ``#pragma GCC target`` / ``#pragma clang attribute`` (see csrc/tg_isa.h), and the
    kernel picks the best variant the running CPU supports (``__builtin_cpu_supports``).
    On arm64 there is one variant, NEON (16-byte vectors), with no run-time dispatch.
  * Compilers: GCC >= 10 and clang >= 14 (CC=clang); macOS: Apple clang, with OpenMP
    from Homebrew's libomp when it is installed (else one thread, and the build says
    so); Windows: clang-cl when found (MSVC cannot compile csrc/), else no extension.
  * ``TINYGRAD_EDU_NATIVE=1`` is that opt-in (-march=native), for your own machine only.
  * OpenMP is used when the compiler has it; otherwise the kernels run on one
    thread and ``tinygrad_edu.info()["openmp"]`` says so.
  * What was built, with which compiler and flags, and each module's first compiler
    error if it failed, is written to tinygrad_edu/kernels/_build_report.json.
  * If the extension cannot be built at all, installation still succeeds and the
    package runs on its readable NumPy reference path, with one warning.
  * The modules compile in parallel, one compiler per core (``TINYGRAD_EDU_BUILD_JOBS=N``
    to choose; Windows builds one at a time).
"""

from __future__ import annotations

import glob
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile

from setuptools import setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py


def _cc() -> list[str]:
    """The C compiler command setuptools will use (CC overrides Python's own)."""
    return (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()


def _compiler_accepts(flags: list[str], source: str = "int main(void){return 0;}\n") -> bool:
    """True if the C compiler builds and links a tiny program with `flags`."""
    cc = _cc()
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


def _compiler_is_clang() -> bool:
    try:
        out = subprocess.run([*_cc(), "--version"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return False
    return "clang" in (out.stdout + out.stderr).lower()


def _brew_libomp_prefix() -> str | None:
    """$(brew --prefix libomp) if Homebrew is installed, else None."""
    if shutil.which("brew") is None:
        return None
    try:
        out = subprocess.run(
            ["brew", "--prefix", "libomp"], capture_output=True, text=True, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


OPENMP_PROBE = "#include <omp.h>\nint main(void){return omp_get_max_threads() > 0 ? 0 : 1;}\n"
MACOS_LIBOMP_DIRS = ("/opt/homebrew/opt/libomp", "/usr/local/opt/libomp")  # arm64, x86-64 brew
WINDOWS_SKIP = (
    "MSVC cannot compile the GCC/clang vector extensions in csrc/ and clang-cl was not found "
    "(install LLVM or Visual Studio's 'C++ Clang tools'); using the NumPy reference path"
)


def openmp_flags(
    platform: str,
    accepts,
    is_dir=os.path.isdir,
    brew_prefix=_brew_libomp_prefix,
) -> tuple[list[str], list[str], str]:
    """(compile args, link args, note) for OpenMP; empty args mean a one-thread build.

    `accepts(flags, source)` says whether the compiler builds a probe with those flags
    (tests pass a fake, with a fake `is_dir` and `brew_prefix`). On macOS, Apple's
    clang has no -fopenmp driver flag: OpenMP comes from Homebrew's libomp, passed as
    `-Xpreprocessor -fopenmp` plus its include and library folders and `-lomp`.
    """
    if platform == "win32":  # clang-cl's OpenMP needs libomp.lib from LLVM: not assumed
        return [], [], "no OpenMP on Windows builds (kernels run on one thread)"
    if accepts(["-fopenmp"], OPENMP_PROBE):  # GCC, LLVM clang with libomp, Homebrew llvm
        return ["-fopenmp"], ["-fopenmp"], "OpenMP: -fopenmp"
    if platform == "darwin":
        candidates = []
        prefix = brew_prefix()
        if prefix:
            candidates.append(prefix)
        candidates += [d for d in MACOS_LIBOMP_DIRS if d not in candidates]
        for d in candidates:
            if not (is_dir(os.path.join(d, "include")) and is_dir(os.path.join(d, "lib"))):
                continue
            cflags = ["-Xpreprocessor", "-fopenmp", f"-I{d}/include"]
            lflags = [f"-L{d}/lib", "-lomp"]
            if accepts([*cflags, *lflags], OPENMP_PROBE):
                return cflags, lflags, f"OpenMP: Homebrew libomp in {d}"
        return (
            [],
            [],
            (
                "no OpenMP: Apple clang needs libomp (`brew install libomp`, then reinstall); "
                "kernels run on one thread"
            ),
        )
    return [], [], "no OpenMP: the compiler lacks -fopenmp; kernels run on one thread"


def windows_compiler(which=shutil.which) -> tuple[str | None, str]:
    """(path of clang-cl or None, note): MSVC's cl.exe cannot build csrc/, clang-cl can."""
    path = which("clang-cl")
    if path:
        return path, f"building with clang-cl ({path})"
    return None, WINDOWS_SKIP


def build_flags(
    platform: str,
    env,
    accepts,
    is_clang: bool,
    is_dir=os.path.isdir,
    brew_prefix=_brew_libomp_prefix,
) -> dict:
    """Compile flags, link flags, macros and notes for every kernel module (pure: tests
    fake the platform, environment, compiler probe and file system)."""
    if platform == "win32":  # clang-cl takes MSVC-style options and /clang: for the rest
        return {
            "compile_args": [
                "/O2",
                "/clang:-std=c11",
                "/clang:-ffp-contract=off",
                "-Wno-unused-function",
            ],
            "link_args": [],
            "macros": [("TG_NO_OPENMP", "1"), ("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            "openmp": False,
            "openmp_note": "no OpenMP on Windows builds (kernels run on one thread)",
        }
    # ISO C11 keeps `a * b + c` as two roundings in GCC (no implicit FMA contraction), so
    # a kernel can match its NumPy twin bit for bit (the optimizer update does); kernels
    # that want a fused multiply-add call it explicitly (tg_vec.h / tg_exp.h helpers).
    # clang contracts within an expression by default even in C11: -ffp-contract=off says
    # the same thing to it. macOS uses gnu11: strict C11 hides Darwin's POSIX declarations.
    std = "-std=gnu11" if platform == "darwin" else "-std=c11"
    compile_args = ["-O3", std, "-fno-strict-aliasing", "-Wno-unused-function"]
    if is_clang:
        compile_args.append("-ffp-contract=off")
    link_args: list[str] = []
    macros: list[tuple[str, str]] = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
    if env.get("TINYGRAD_EDU_NATIVE") == "1":
        print("tinygrad_edu: TINYGRAD_EDU_NATIVE=1 (opt-in): building for this CPU only")
        compile_args.append("-march=native")  # only on this opt-in (environ check above)
    if env.get("TINYGRAD_EDU_ASAN") == "1":  # see tests/run_asan.sh
        compile_args += ["-fsanitize=address", "-fno-omit-frame-pointer", "-O1", "-g"]
        link_args += ["-fsanitize=address"]
    if env.get("TINYGRAD_EDU_NO_OPENMP") == "1":
        omp_c, omp_l, note = [], [], "no OpenMP: TINYGRAD_EDU_NO_OPENMP=1"
    else:
        omp_c, omp_l, note = openmp_flags(platform, accepts, is_dir, brew_prefix)
    if not omp_c:
        macros.append(("TG_NO_OPENMP", "1"))
    return {
        "compile_args": compile_args + omp_c,
        "link_args": link_args + omp_l,
        "macros": macros,
        "openmp": bool(omp_c),
        "openmp_note": note,
    }


def first_error_line(output: str) -> str:
    """The compiler's first error line (what a learner should read first)."""
    lines = [ln.strip() for ln in output.splitlines() if ln.strip()]
    for ln in lines:
        if "error" in ln.lower():
            return ln
    return lines[-1] if lines else "(the compiler printed nothing)"


class OptionalBuildExt(build_ext):
    """Build the kernels, but never fail the install: the reference path still works.

    Each module's outcome ('built', or the compiler's first error line) goes into
    tinygrad_edu/kernels/_build_report.json next to the modules, with the compiler and
    flags; `tinygrad-edu info` shows it, and a module that fails to import names it.
    """

    report: dict = {}

    def finalize_options(self) -> None:
        super().finalize_options()
        # The modules compile independently, so by default one compiler runs per core, at
        # most one per module: about half the build time on two cores. `build_ext -j N`
        # or TINYGRAD_EDU_BUILD_JOBS=N chooses otherwise; Windows builds one at a time.
        jobs = os.environ.get("TINYGRAD_EDU_BUILD_JOBS", "")
        if jobs.isdigit() and int(jobs) > 0:
            self.parallel = int(jobs)
        elif not self.parallel and sys.platform != "win32":
            self.parallel = max(1, min(os.cpu_count() or 1, len(self.extensions or ())))

    def build_extensions(self) -> None:
        if sys.platform == "win32":
            cl, note = windows_compiler()
            self.report["compiler_note"] = note
            if cl is None:
                print(f"tinygrad_edu: {note}", file=sys.stderr)
                return
            self.compiler.initialize()
            self.compiler.cc = cl  # same options as cl.exe, but understands the C in csrc/
        else:  # setuptools runs the compiler through `call` (newer) or `spawn` (older)
            self.compiler.spawn = self.compiler.call = self._spawn_capturing
        self.report["compiler"] = " ".join(getattr(self.compiler, "compiler_so", None) or [])
        super().build_extensions()

    def _spawn_capturing(self, cmd, env=None, **kwargs) -> None:
        """Run one compiler command, echo its output, and on failure raise with its
        first error line (distutils' own message only says 'exit code 1')."""
        from setuptools.errors import CompileError

        cmd = [os.fspath(c) for c in cmd]
        print(" ".join(cmd))
        res = subprocess.run(cmd, capture_output=True, text=True, env=env)
        sys.stdout.write(res.stdout)
        sys.stderr.write(res.stderr)
        if res.returncode != 0:
            raise CompileError(f"{cmd[0]}: {first_error_line(res.stderr + res.stdout)}")

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - any build failure falls back
            self._warn(exc)
        self._write_report()

    def build_extension(self, ext) -> None:
        short = ext.name.rsplit(".", 1)[-1]
        try:
            super().build_extension(ext)
            self.report.setdefault("modules", {})[short] = "built"
        except Exception as exc:  # noqa: BLE001
            self.report.setdefault("modules", {})[short] = str(exc).splitlines()[0]
            self._warn(exc, ext.name)

    def copy_extensions_to_source(self) -> None:
        """(An in-place build) copy the modules that built; a failed one is reported
        already, and copying it would fail the build a second time with a vaguer message."""
        modules = self.report.get("modules", {})
        every = self.extensions
        self.extensions = [
            e for e in every if modules.get(e.name.rsplit(".", 1)[-1], "built") == "built"
        ]
        try:
            super().copy_extensions_to_source()
        finally:
            self.extensions = every

    def _write_report(self) -> None:
        if not self.extensions:
            return
        out_dir = os.path.dirname(self.get_ext_fullpath(self.extensions[0].name))
        try:
            os.makedirs(out_dir, exist_ok=True)
            with open(os.path.join(out_dir, "_build_report.json"), "w") as f:
                json.dump(self.report, f, indent=1)
        except OSError as exc:
            print(f"tinygrad_edu: could not write the build report ({exc})", file=sys.stderr)

    @staticmethod
    def _warn(exc: Exception, name: str = "kernels") -> None:
        fallback = (
            "The package will run on the (slower) NumPy reference path."
            if name == "kernels"
            else "Its kernels will run on the (slower) NumPy reference path; the other "
            "modules are not affected."
        )
        print(
            f"\nWARNING: tinygrad_edu could not build its compiled extension {name}: {exc}\n"
            f"{fallback}\n",
            file=sys.stderr,
        )


# The course travels in the wheel: the lessons (tutorials/ stays at the top of the checkout,
# where a learner reads it), the README (the book's reading map) and the C sources the
# lessons point to, as tinygrad_edu/course/ (tinygrad_edu/lessons/course.py finds them).
COURSE_FILES = ("tutorials/*.py", "README.md", "csrc/*.c", "csrc/*.h")


def course_files(root: str = ".") -> list[tuple[str, str]]:
    """(source, path inside tinygrad_edu/course/) for every file of the course."""
    found = []
    for pattern in COURSE_FILES:
        for src in sorted(glob.glob(os.path.join(root, pattern))):
            rel = os.path.relpath(src, root).replace(os.sep, "/")
            inside = rel.split("/", 1)[1] if rel.startswith("tutorials/") else rel
            found.append((src, inside))
    return found


class BuildPyWithCourse(build_py):
    """build_py, plus the course copied into the built package (not in an editable
    install: there the lessons are read from tutorials/ itself)."""

    def run(self) -> None:
        super().run()
        if getattr(self, "editable_mode", False):
            return
        course = os.path.join(self.build_lib, "tinygrad_edu", "course")
        for src, inside in course_files():
            dest = os.path.join(course, *inside.split("/"))
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            self.copy_file(src, dest)


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
    if sys.platform == "win32" and windows_compiler()[0] is None:
        print(f"tinygrad_edu: {WINDOWS_SKIP}")
        return []
    flags = build_flags(
        sys.platform,
        os.environ,
        _compiler_accepts,
        sys.platform != "win32" and _compiler_is_clang(),
    )
    print(f"tinygrad_edu: {flags['openmp_note']}")
    compile_args, link_args, macros = flags["compile_args"], flags["link_args"], flags["macros"]
    OptionalBuildExt.report.update(
        compile_args=compile_args,
        link_args=link_args,
        openmp=flags["openmp"],
        openmp_note=flags["openmp_note"],
        platform=sys.platform,
    )
    include_dirs = ["csrc"]
    try:  # NumPy's C headers: _mempool.pyx (the NEP 49 allocator API), and the small-array
        # fast paths of _core.pyx and _activations.pyx (an array's header read in C)
        import numpy

        include_dirs.append(numpy.get_include())
    except ImportError:
        print("tinygrad_edu: NumPy is missing at build time; the compiled kernels will not build")
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


if __name__ == "__main__":  # (tests import this file to check the flag logic)
    setup(
        ext_modules=_extensions(),
        cmdclass={"build_ext": OptionalBuildExt, "build_py": BuildPyWithCourse},
    )
