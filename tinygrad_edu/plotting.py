"""Plots for the tutorials, when matplotlib is there.

Every tutorial prints what it teaches; a plot is a bonus. `maybe_plt()` returns
matplotlib.pyplot or None, and `savefig()` writes a PNG into the output folder
($TINYGRAD_EDU_OUT, or ./tutorial_output/) and prints where it went.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any


def _in_notebook() -> bool:
    """Inside Jupyter, keep its inline backend so that plots show up in the notebook."""
    return "ipykernel" in sys.modules


def maybe_plt() -> Any:
    """matplotlib.pyplot with the file-only Agg backend (no window pops up), or None."""
    try:
        import matplotlib
    except ImportError:
        return None
    if not _in_notebook():
        matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def output_dir() -> Path:
    """Where tutorials write their files: $TINYGRAD_EDU_OUT or ./tutorial_output/."""
    out = Path(os.environ.get("TINYGRAD_EDU_OUT") or "tutorial_output")
    out.mkdir(parents=True, exist_ok=True)
    return out


def savefig(fig: Any, name: str) -> Path:
    """Save fig as a PNG called name in output_dir(), print the path, return it."""
    path = output_dir() / name
    if not path.suffix:
        path = path.with_suffix(".png")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    print(f"  [plot saved to {path}]")
    if not _in_notebook():  # free the figure; in a notebook it is still to be displayed
        import matplotlib.pyplot as plt

        plt.close(fig)
    return path
