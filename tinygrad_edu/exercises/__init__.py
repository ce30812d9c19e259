"""Exercises: small functions a learner writes, checked against the library's own code.

    tinygrad-edu exercises init ex          one file per exercise in ./ex, and a README
    tinygrad-edu exercises check ex         passed / not started / failed: the first mismatch
    tinygrad-edu exercises check ex softmax just one
    tinygrad-edu exercises solve ex         (teachers) the reference solutions

The pieces:
    catalog.py     the exercises in lesson order: lesson, library source, functions
    templates/     the files a learner starts from (docstring + `raise NotImplementedError`)
    checks.py      one check per exercise, its expected values from the library itself
    harness.py     calling the learner's code safely; comparisons with useful messages
    runner.py      each check in a child process with a time limit
    workspace.py   writing the folder without ever overwriting a learner's edits
    solutions/     the reference solutions, short versions of the library's code

Exercises sit on the top floor with the command line and the lessons: they import
anything in the package, and nothing in the package imports them.
"""

from __future__ import annotations

from .catalog import EXERCISES, Exercise, for_lesson, get, names
from .runner import DEFAULT_TIMEOUT, Result, check_file, run_checks, summary
from .workspace import init, solution_text, solve, template_text

__all__ = [
    "EXERCISES",
    "Exercise",
    "for_lesson",
    "get",
    "names",
    "DEFAULT_TIMEOUT",
    "Result",
    "check_file",
    "run_checks",
    "summary",
    "init",
    "solve",
    "solution_text",
    "template_text",
]
