"""Cross-compile tinygrad_edu's kernels for an aarch64 CPython (.ci/portability.sh, the
arm64-python stage).

    python tests/arm64/cross_build.py SRC SYSROOT NUMPY_INCLUDE

SRC is a copy of the source tree (the modules land in its tinygrad_edu/kernels/), SYSROOT
holds Debian's arm64 python3.11 and libpython3.11-dev unpacked (its headers), and
NUMPY_INCLUDE is the include folder of NumPy's aarch64 wheel. The build is setup.py's own:
the same Cython modules and C sources, the same flags, chosen by the same probe
(`build_flags`) run against aarch64-linux-gnu-gcc, with the compiler and the headers of
the other machine. What was built goes into _build_report.json, as setup.py writes it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import sysconfig
from concurrent.futures import ThreadPoolExecutor

CC = os.environ.get("CROSS_CC", "aarch64-linux-gnu-gcc")
SUFFIX = ".cpython-311-aarch64-linux-gnu.so"  # what an aarch64 CPython 3.11 imports


def main(src: str, sysroot: str, numpy_include: str) -> int:
    os.chdir(src)
    os.environ["CC"] = CC  # setup.py's compiler probe asks this compiler
    spec = importlib.util.spec_from_file_location("tg_setup", os.path.join(src, "setup.py"))
    setup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(setup)  # defines only: setup() runs under __main__
    flags = setup.build_flags("linux", os.environ, setup._compiler_accepts, is_clang=False)
    exts = setup._extensions()  # cythonized: .pyx -> .c here, plus each module's C sources
    if not exts:
        print("cross_build: setup.py made no extensions", file=sys.stderr)
        return 1
    python_include = os.path.join(sysroot, "usr/include/python3.11")
    includes = ["-Icsrc", f"-I{numpy_include}", f"-I{python_include}",
                # pyconfig.h includes <aarch64-linux-gnu/python3.11/pyconfig.h>; after the
                # cross compiler's own C library headers, not instead of them
                f"-idirafter{os.path.join(sysroot, 'usr/include')}"]  # fmt: skip
    macros = [f"-D{k}={v}" for k, v in flags["macros"]]
    cflags = ["-fPIC", "-fwrapv", "-DNDEBUG", *flags["compile_args"], *macros, *includes]
    report = {
        "compiler": f"{CC} (cross, for aarch64)",
        "compile_args": flags["compile_args"],
        "link_args": flags["link_args"],
        "openmp": flags["openmp"],
        "openmp_note": flags["openmp_note"],
        "platform": "linux (aarch64, cross-compiled)",
        "modules": {},
    }
    build = os.path.join(src, "build-aarch64")
    os.makedirs(build, exist_ok=True)

    def build_one(ext) -> str:
        short = ext.name.rsplit(".", 1)[-1]
        objects = []
        for source in ext.sources:
            obj = os.path.join(build, f"{short}-{os.path.basename(source)}.o")
            subprocess.run([CC, *cflags, "-c", source, "-o", obj], check=True)
            objects.append(obj)
        out = os.path.join("tinygrad_edu", "kernels", short + SUFFIX)
        subprocess.run([CC, "-shared", *objects, *flags["link_args"], "-o", out], check=True)
        return short

    # the modules are independent: one compiler per core, as setup.py builds them
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        for short in pool.map(build_one, exts):
            report["modules"][short] = "built"
            print(f"  tinygrad_edu/kernels/{short}{SUFFIX}")
    with open(os.path.join("tinygrad_edu", "kernels", "_build_report.json"), "w") as f:
        json.dump(report, f, indent=1)
    host = sysconfig.get_config_var("EXT_SUFFIX")
    print(f"cross_build: {len(exts)} modules for aarch64 (this host's would be *{host})")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    sys.exit(main(*sys.argv[1:]))
