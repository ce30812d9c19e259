"""The package's floors: imports point only down, and no module imports in a cycle.

Every module of tinygrad_edu is parsed with `ast`; every import counts, at the top
of a file or inside a function (a lazy import hides a cycle from Python, not from
the reader); only `if TYPE_CHECKING:` blocks, which never run, are left out. The floors, bottom to top:

    0  kernels/ (compiled kernels and their NumPy twins), rng, _version, fileio
    1  the tensor engine: autograd, grad_store, tensor, ops/, gradcheck
    2  nn/, optim/, data/, checkpoint, tokenizer, plotting, distributed
    3  models/, rlhf
    4  cli, __main__, lessons/, exercises/, and the package's own __init__ (the front door)

scalar.py (lesson 1's engine) stands alone: it imports nothing of the package.
A module not listed here (a new top-level file) is put on the top floor.
"""

from __future__ import annotations

import ast
import pathlib

import pytest

import tinygrad_edu

PACKAGE = pathlib.Path(tinygrad_edu.__file__).parent
NAME = "tinygrad_edu"

FLOORS = {  # module name (or package prefix ending in ".") -> floor
    "tinygrad_edu.kernels.": 0,
    "tinygrad_edu.kernels": 0,
    "tinygrad_edu.rng": 0,
    "tinygrad_edu._version": 0,
    "tinygrad_edu.fileio": 0,  # atomic writes: imports nothing of the package
    "tinygrad_edu.autograd": 1,
    "tinygrad_edu.grad_store": 1,
    "tinygrad_edu.tensor": 1,
    "tinygrad_edu.ops": 1,
    "tinygrad_edu.ops.": 1,
    "tinygrad_edu.gradcheck": 1,
    "tinygrad_edu.nn": 2,
    "tinygrad_edu.nn.": 2,
    "tinygrad_edu.optim": 2,
    "tinygrad_edu.optim.": 2,
    "tinygrad_edu.data": 2,
    "tinygrad_edu.data.": 2,
    "tinygrad_edu.checkpoint": 2,
    "tinygrad_edu.tokenizer": 2,
    "tinygrad_edu.tokenizer.": 2,
    "tinygrad_edu.plotting": 2,
    "tinygrad_edu.distributed": 2,  # data parallelism: models/train_gpt uses it
    "tinygrad_edu.models": 3,
    "tinygrad_edu.models.": 3,
    "tinygrad_edu.rlhf": 3,
    "tinygrad_edu.lessons": 4,
    "tinygrad_edu.lessons.": 4,
    "tinygrad_edu.exercises": 4,
    "tinygrad_edu.exercises.": 4,
    "tinygrad_edu": 4,
}
TOP = 4


def floor(module: str) -> int:
    if module in FLOORS:
        return FLOORS[module]
    prefixes = [p for p in FLOORS if p.endswith(".") and module.startswith(p)]
    return FLOORS[max(prefixes, key=len)] if prefixes else TOP


def modules() -> dict[str, pathlib.Path]:
    """Module name -> source file, for every .py (and compiled .pyx) of the package."""
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")) + sorted(PACKAGE.rglob("*.pyx")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def imports_of(module: str, path: pathlib.Path, known: dict) -> set[str]:
    """The package modules `module` imports, anywhere in its file."""
    if path.suffix == ".pyx":
        return set()  # Cython wrappers import only C and NumPy
    here = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    # `if TYPE_CHECKING:` blocks never run: they name types for annotations only
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    targets = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from . / from .. (one dot = this package)
                base = here[: len(here) - node.level + 1]
            elif (node.module or "").split(".")[0] == NAME:
                base = []
            else:
                continue
            pkg = ".".join(base + (node.module.split(".") if node.module else []))
            # `from pkg import name`: name is a submodule, or something defined in pkg
            targets += [
                f"{pkg}.{a.name}" if f"{pkg}.{a.name}" in known else pkg for a in node.names
            ]
    deps = set()
    for t in targets:
        while t and t not in known:  # `import tinygrad_edu.nn.functional as F` etc.
            t = t.rpartition(".")[0]
        if t and t != module:
            deps.add(t)
    return deps


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    known = modules()
    return {m: imports_of(m, p, known) for m, p in known.items()}


def test_the_graph_is_read_from_the_sources(graph):
    # guards the parser: known edges must be found, including a lazy one
    assert "tinygrad_edu.autograd" in graph["tinygrad_edu.tensor"]
    assert "tinygrad_edu.ops.movement" in graph["tinygrad_edu.ops.elementwise"]
    assert "tinygrad_edu.kernels" in graph["tinygrad_edu.grad_store"]
    assert "tinygrad_edu.checkpoint" in graph["tinygrad_edu.models.gpt"]  # inside a method
    assert len(graph) > 40


def test_no_import_cycles(graph):
    # depth-first search with colours: meeting a grey (open) module closes a cycle
    colour: dict[str, str] = {}
    cycles = []

    def visit(m: str, path: list[str]) -> None:
        colour[m] = "grey"
        for d in sorted(graph[m]):
            if colour.get(d) == "grey":
                cycles.append(path[path.index(d) :] + [d] if d in path else [m, d])
            elif d not in colour:
                visit(d, path + [d])
        colour[m] = "black"

    for m in sorted(graph):
        if m not in colour:
            visit(m, [m])
    assert not cycles, "import cycles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_imports_point_only_down_the_floors(graph):
    upward = [
        f"{m} (floor {floor(m)}) imports {d} (floor {floor(d)})"
        for m, deps in graph.items()
        for d in deps
        if floor(d) > floor(m)
    ]
    assert not upward, "\n".join(upward)


def test_scalar_engine_stands_alone(graph):
    assert graph["tinygrad_edu.scalar"] == set()


def test_the_tensor_pages_reach_kernels_only_through_kernels_ops(graph):
    # autograd.py, tensor.py and ops/ use `kernels.ops.*` (the active backend), never
    # compiled.py or reference.py directly; autograd.py and tensor.py not even that.
    pages = [m for m in graph if floor(m) == 1]
    for m in pages:
        kernel_deps = {d for d in graph[m] if d.startswith("tinygrad_edu.kernels")}
        assert kernel_deps <= {"tinygrad_edu.kernels"}, (m, kernel_deps)
    for m in ("tinygrad_edu.autograd", "tinygrad_edu.tensor"):
        assert not any(d.startswith("tinygrad_edu.kernels") for d in graph[m]), m
