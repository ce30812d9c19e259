"""Every command of the README works on its own, on a fresh machine.

Each ```bash block of README.md is read as it is today (nothing here repeats its text). A
line that installs (`pip install -e ".[book]"`, also when the install is only named in
the line's comment) gets a fresh virtual environment with just that: the wheel of this
checkout with those extras, and whatever else the line names. The block's commands then
run in the environment of their install (a block with none: the bare wheel), from a
scratch folder that has the checkout's tutorials/ and tests/, in a short form where one
exists: train-gpt for a few iterations of a tiny model, the book on two lessons with
--quick (lesson 5 writes a checkpoint: the failure this test was written for), a lesson
with --quick, pytest collecting (every test module imports). CI runs the full book
command on its own (.ci/run).

Slow (a wheel build and several environments): `-m "not slow"` leaves it out. With
TINYGRAD_EDU_WHEEL set to a wheel of this checkout it is reused instead of built.
"""

from __future__ import annotations

import gzip
import os
import re
import shlex
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The short form of a command: extra arguments appended after the README's own (argparse
# keeps the last value of an option given twice).
TINY_GPT = ["--n-layer", "1", "--n-head", "2", "--n-embd", "16", "--block-size", "16",
            "--batch-size", "2", "--max-iters", "2", "--eval-interval", "2", "--eval-iters", "1",
            "--no-progress"]  # fmt: skip
SHORT = {
    "train-gpt": TINY_GPT,
    "sample": ["--max-new-tokens", "20"],
    "book": ["--quick", "--only", "01", "05"],
    "pytest": ["--collect-only"],
}
# `exercises check` exits 1 while an exercise is not done yet: that is its answer, not a failure
EXIT_OK = {"check": (0, 1)}
INSTALL_RE = re.compile(r"^(?:python3? -m )?pip install\b")


def bash_blocks(readme: str) -> list[list[str]]:
    """The lines of every ```bash block, in order."""
    blocks = re.findall(r"^```bash\n(.*?)^```", readme, flags=re.S | re.M)
    return [[ln for ln in b.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
            for b in blocks]  # fmt: skip


def split_line(line: str) -> tuple[list[list[str]], str]:
    """A command line -> (its commands joined by &&, its trailing comment)."""
    quote, cut = "", len(line)
    for i, ch in enumerate(line):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            cut = i
            break
    code, comment = line[:cut], line[cut + 1 :].strip()
    commands = [shlex.split(part) for part in code.split("&&") if part.strip()]
    return commands, comment


def install_spec(cmd: list[str]) -> tuple[str, ...] | None:
    """`pip install -e ".[a,b]" other` -> ("a", "b", "+other"); None if not an install."""
    cmd = env_prefix(cmd)[1]  # TINYGRAD_EDU_NATIVE=1 pip install ...: the wheel is built
    if not INSTALL_RE.match(" ".join(cmd)):
        return None
    args = cmd[cmd.index("install") + 1 :]
    spec: list[str] = []
    for arg in args:
        if arg in ("-e", "--editable", "-q", "-U", "--upgrade"):
            continue
        m = re.fullmatch(r"\.(?:\[([\w,\s-]*)\])?", arg)
        if m:
            spec += sorted(e.strip() for e in (m.group(1) or "").split(",") if e.strip())
        else:
            spec.append("+" + arg)
    return tuple(spec)


def install_in_comment(comment: str) -> tuple[str, ...] | None:
    m = re.search(r"(pip install [^)`]*)", comment)
    return install_spec(shlex.split(m.group(1))) if m else None


def env_prefix(cmd: list[str]) -> tuple[dict[str, str], list[str]]:
    """`A=1 B=2 command args` -> ({"A": "1", "B": "2"}, [command, args])."""
    env = {}
    while cmd and re.fullmatch(r"[A-Za-z_]\w*=.*", cmd[0]):
        key, value = cmd[0].split("=", 1)
        env[key] = value
        cmd = cmd[1:]
    return env, cmd


def short_form(cmd: list[str]) -> list[str]:
    for key, extra in SHORT.items():
        if key in cmd:
            return cmd + extra
    if any(re.fullmatch(r"(\S*/)?tutorials/\d\d_\w+\.py", a) for a in cmd):
        return cmd + ["--quick"]
    return cmd


def plan(readme: str) -> list[tuple[tuple[str, ...], list[str]]]:
    """(the install it runs under, the command) for every command of the README."""
    steps = []
    for block in bash_blocks(readme):
        env: tuple[str, ...] = ()  # a block without an install: the bare package
        for line in block:
            commands, comment = split_line(line)
            in_comment = install_in_comment(comment)
            for cmd in commands:
                spec = install_spec(cmd)
                if spec is not None:
                    env = spec
                    continue
                steps.append((in_comment if in_comment is not None else env, cmd))
    return steps


# --- the parsing, on its own (fast) ---------------------------------------------------------


def test_plan_reads_installs_and_commands():
    readme = (
        "text\n```bash\n"
        'pip install -e ".[book]" && tinygrad-edu book --out book   # add --quick\n'
        "```\n```bash\ntinygrad-edu info\n"
        'mpiexec -n 2 tinygrad-edu train-gpt --out run   # (pip install -e ".[mpi]")\n'
        "```\n```python\nnot a command\n```\n"
    )
    steps = plan(readme)
    assert steps == [
        (("book",), ["tinygrad-edu", "book", "--out", "book"]),
        ((), ["tinygrad-edu", "info"]),
        (("mpi",), ["mpiexec", "-n", "2", "tinygrad-edu", "train-gpt", "--out", "run"]),
    ]
    assert short_form(steps[0][1])[-4:] == ["--quick", "--only", "01", "05"]
    assert env_prefix(["OMP_NUM_THREADS=1", "tinygrad-edu", "info"]) == (
        {"OMP_NUM_THREADS": "1"},
        ["tinygrad-edu", "info"],
    )
    assert install_spec(["TINYGRAD_EDU_NATIVE=1", "pip", "install", "-e", "."]) == ()
    assert install_spec(["pip", "install", "-e", ".[test,plot]", "websocket-client"]) == (
        "plot",
        "test",
        "+websocket-client",
    )


def test_the_readme_has_commands_to_check():
    steps = plan((ROOT / "README.md").read_text(encoding="utf-8"))
    assert steps, "README.md has no ```bash block"


# --- the real run (slow) --------------------------------------------------------------------


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    given = os.environ.get("TINYGRAD_EDU_WHEEL")
    if given:
        return Path(given).resolve()
    out = tmp_path_factory.mktemp("wheel")
    res = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(out)],
        capture_output=True, text=True, timeout=1800,
    )  # fmt: skip
    if res.returncode != 0:
        pytest.fail(f"building the wheel failed:\n{res.stderr[-3000:]}")
    return next(out.glob("tinygrad_edu-*.whl"))


def _make_env(where: Path, wheel: Path, spec: tuple[str, ...]) -> dict[str, str]:
    venv.create(where, with_pip=True)
    extras = [s for s in spec if not s.startswith("+")]
    others = [s[1:] for s in spec if s.startswith("+")]
    target = f"{wheel}[{','.join(extras)}]" if extras else str(wheel)
    py = where / "bin" / "python"
    res = subprocess.run([str(py), "-m", "pip", "install", "-q", target, *others],
                         capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert res.returncode == 0, f"pip install {target} {others}:\n{res.stderr[-3000:]}"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    # none of the test runner's own environment: its mpiexec or tinygrad-edu would hide a
    # command whose install line is missing
    ours = {os.path.join(p, "bin") for p in (sys.prefix, os.environ.get("VIRTUAL_ENV", ""))}
    path = [p for p in env["PATH"].split(os.pathsep) if p and p not in ours]
    env.update(VIRTUAL_ENV=str(where), PATH=os.pathsep.join([str(where / "bin"), *path]))
    env.update(MPLBACKEND="Agg", OMP_NUM_THREADS="1")
    env.pop("TINYGRAD_EDU_OUT", None)
    return env


def _provide_inputs(cmd: list[str], cwd: Path) -> None:
    """A README example names "your own text" (--data my.txt): give it some text."""
    if "--data" in cmd:
        path = cwd / cmd[cmd.index("--data") + 1]
        if not path.exists():
            src = ROOT / "tinygrad_edu" / "data"
            text = next(
                (gzip.open(p, "rt").read() for p in src.glob("*shakespeare*.gz")),
                "To be, or not to be, that is the question.\n" * 200,
            )
            path.write_text(text[:20000], encoding="utf-8")


@pytest.mark.slow
def test_every_readme_command_works_from_its_own_install(tmp_path, wheel):
    steps = plan((ROOT / "README.md").read_text(encoding="utf-8"))
    work = tmp_path / "work"
    work.mkdir()
    for name in ("tutorials", "tests", "pyproject.toml"):  # what a checkout's commands read
        (work / name).symlink_to(ROOT / name)
    envs: dict[tuple[str, ...], dict[str, str]] = {}
    failures = []
    for spec, cmd in steps:
        if spec not in envs:
            envs[spec] = _make_env(tmp_path / f"venv{len(envs)}", wheel, spec)
        extra_env, cmd = env_prefix(cmd)
        _provide_inputs(cmd, work)
        run = short_form(cmd)
        res = subprocess.run(run, cwd=work, env={**envs[spec], **extra_env},
                             capture_output=True, text=True, timeout=1200)  # fmt: skip
        ok = next((codes for key, codes in EXIT_OK.items() if key in cmd), (0,))
        if res.returncode not in ok:
            last = (res.stdout + res.stderr).strip().splitlines()[-5:]
            extras = ",".join(spec) or "no extras"
            failures.append(f"[{extras}] {shlex.join(run)}: exit {res.returncode}\n  " +
                            "\n  ".join(last))  # fmt: skip
    assert not failures, "README commands that fail on their own:\n" + "\n".join(failures)
