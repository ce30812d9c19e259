"""Check a folder of lesson verdict records against the lessons' expectations.

    python tests/check_lesson_records.py DIR [--seed N] [--lessons 01 02 ...]

DIR holds the `<lesson>_verdicts.json` files that the lessons wrote when run with `--quick`
(TINYGRAD_EDU_OUT=DIR). Each is checked against EXPECTED in tests/test_lessons.py, the table
pytest checks seed 0 against: every verdict and every belief outcome as expected, none
unknown. .ci/run runs every lesson with --seed 1, builds the book with seed 2, and checks both.
Prints one line per problem; exits 1 if there is any, 0 if every record is as expected.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _expectations():
    """tests/test_lessons.py, loaded by path (tests/ is no package)."""
    spec = importlib.util.spec_from_file_location("_test_lessons", HERE / "test_lessons.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check(folder: Path, seed: int | None = None, only: list[str] | None = None) -> list[str]:
    """Every problem with the records in folder (an empty list: all as expected)."""
    tests = _expectations()
    problems = []
    for stem in sorted(tests.EXPECTED):
        if only and stem[:2] not in only:
            continue
        path = folder / f"{stem}_verdicts.json"
        if not path.is_file():
            problems.append(f"{stem}: no record {path}")
            continue
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except ValueError as exc:
            problems.append(f"{stem}: {path} is not JSON ({exc})")
            continue
        problems.extend(tests.record_problems(stem, record, seed=seed))
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="the folder of <lesson>_verdicts.json records")
    parser.add_argument("--seed", type=int, default=None, help="the seed the records must carry")
    parser.add_argument("--lessons", nargs="*", default=None, help="only these lesson numbers")
    args = parser.parse_args(argv)
    if not args.folder.is_dir():
        print(f"no folder {args.folder}", file=sys.stderr)
        return 2
    problems = check(args.folder, args.seed, args.lessons)
    for p in problems:
        print(p)
    n = len(args.lessons) if args.lessons else "all"
    print(f"{args.folder}: {len(problems)} problem(s) in the records of {n} lessons")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
