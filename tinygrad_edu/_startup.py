"""Ctrl-C while the command line starts: one line, not a traceback through the imports.

`tinygrad-edu COMMAND` (or `python -m tinygrad_edu`) first imports the package, NumPy
and the compiled kernels: a few tenths of a second before cli.main() runs and can catch
anything. A Ctrl-C then would print Python's traceback of whatever import was going on.

So the package imports this page first. When the process IS the command line (and only
then: importing the library as a library changes no signal handling), SIGINT and
SIGTERM end it at once with one line and the status a shell gives a stopped command:
128 + the signal's number (130 for SIGINT, 143 for SIGTERM). Nothing has been written
yet, so there is nothing to clean up. cli.main() puts its own handlers in place as its
first step (see cli.py, `_Signals`).
"""

from __future__ import annotations

import os
import signal
import sys


def launched_as_cli() -> bool:
    """Whether this process is `tinygrad-edu ...` or `python -m tinygrad_edu ...`."""
    argv = getattr(sys, "argv", None) or [""]
    if os.path.basename(argv[0]).startswith("tinygrad-edu"):
        return True  # the console script
    if argv[0] == "-m":  # `python -m X`, while X's package is imported (Python 3.10+)
        orig = getattr(sys, "orig_argv", [])
        return "-m" in orig[:-1] and orig[orig.index("-m") + 1] == "tinygrad_edu"
    return False


def stop_while_starting(signum: int, frame: object) -> None:
    how = (
        "interrupted" if signum == signal.SIGINT else f"terminated ({signal.Signals(signum).name})"
    )
    os.write(2, f"tinygrad-edu: {how} while starting; nothing was changed\n".encode())
    os._exit(128 + signum)  # no traceback, no clean-up: nothing was started


def install() -> None:
    if not launched_as_cli():
        return
    for sig in (signal.SIGINT, signal.SIGTERM):
        # a signal the parent told us to ignore (nohup, a background job) stays ignored
        if signal.getsignal(sig) in (signal.default_int_handler, signal.SIG_DFL):
            try:
                signal.signal(sig, stop_while_starting)
            except ValueError:  # imported in another thread than the main one: not ours
                return


install()
