"""What every lesson does first: `--quick`, the output folder, seeding, figures, verdicts.

A lesson starts with

    from tinygrad_edu.lessons.common import Lesson
    lesson = Lesson("04_digits", "Lesson 4: a network that reads handwritten digits")

and then uses `lesson.quick`, `lesson.args`, `lesson.plt` (matplotlib.pyplot, or None without it),
`lesson.out` (the folder for files: $TINYGRAD_EDU_OUT or ./tutorial_output/),
`lesson.save(fig, "loss_curves")` (saved as 04_loss_curves.png, shown inline in a notebook),
`lesson.verdict(...)` for every conclusion it prints, and `lesson.belief(...)` for every
belief a learner brings from the lecture, checked by an experiment.

A verdict is a conclusion computed from this run's numbers: the lesson passes the
measured condition and two texts, and the one that matches what happened is printed.
Verdicts are also written to `<out>/<lesson>_verdicts.json`, so that the tests can check
that, in `--quick` mode, each lesson's run shows what its prose says.

A belief is a learner's claim about the lecture (CURRICULUM.md, "A learner's notes"), put in
our own words and checked by an experiment on the lesson's models. Its outcome, one of
"confirmed", "partly" or "corrected", must be computed from the run (a conditional on
measured numbers), and its evidence is one line with those numbers. Beliefs are written to
the same file, under "beliefs", and the book gathers them on its "Checked beliefs" page.

`--seed N` (or $TINYGRAD_EDU_SEED) starts the run from another seed: the tests run every
lesson's verdicts and outcomes for seeds 0, 1 and 2.

It lives in the package, not beside the lessons, so that a lesson's notebook runs on its
own (downloaded from the book, opened in Colab) with only the installed package.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np

from .. import plotting, rng

__all__ = ["Lesson", "lesson_gpt"]


class Lesson:
    """The preamble of one lesson (see the module docstring)."""

    def __init__(
        self,
        name: str,
        description: str,
        quick_help: str = "a short run (for CI)",
        add_arguments: Optional[Callable[[argparse.ArgumentParser], None]] = None,
        seed: int = 0,
    ) -> None:
        self.name = name
        parser = argparse.ArgumentParser(description=description)
        parser.add_argument("--quick", action="store_true", help=quick_help)
        parser.add_argument("--seed", type=int, default=None, help="the random start (default 0)")
        parser.add_argument(
            "--mine",
            metavar="DIR",
            default=os.environ.get("TINYGRAD_EDU_MINE") or None,
            help="run on your own exercise functions from DIR (those that pass their check)",
        )
        parser.add_argument(
            "--mine-force",
            action="store_true",
            default=bool(os.environ.get("TINYGRAD_EDU_MINE_FORCE")),
            help="with --mine: use your functions that fail their check too",
        )
        if add_arguments is not None:
            add_arguments(parser)
        # parse_known_args: Jupyter passes its own arguments to the kernel
        self.args, _ = parser.parse_known_args()
        # the book (tinygrad_edu/lessons/book.py) runs lessons in a kernel: --quick via the env
        self.quick: bool = self.args.quick or bool(os.environ.get("TINYGRAD_EDU_QUICK"))
        # the same random start every run: the weights, the batches, the samples
        if self.args.seed is not None:
            seed = self.args.seed
        elif os.environ.get("TINYGRAD_EDU_SEED"):
            seed = int(os.environ["TINYGRAD_EDU_SEED"])
        self.seed = seed
        rng.manual_seed(seed)
        np.random.seed(seed)
        random.seed(seed)
        self.plt = plotting.maybe_plt()
        self.out = plotting.output_dir()
        self.verdicts: dict[str, bool] = {}
        self.beliefs: dict[str, dict[str, Any]] = {}
        self.mine: list = []  # --mine: which of the learner's functions this run uses
        if self.args.mine:
            from ..exercises import mine

            try:
                self.mine = mine.plug_in(self.args.mine, force=self.args.mine_force)
            except ValueError as exc:  # no such folder: one line, as the command line says it
                parser.error(str(exc))
            print(mine.describe(self.mine, self.args.mine))

    # --- figures -------------------------------------------------------------------------

    def save(self, fig: Any, name: str) -> Path:
        """Save fig as <lesson number>_<name>.png in the output folder; in a notebook, show
        it right here. Every figure must say what it shows: a title, and axis labels on
        every plot that has axes (images and colour bars are exempt)."""
        _check_labels(fig, name)
        prefix = self.name.split("_")[0] + "_"
        path = plotting.savefig(fig, name if name.startswith(prefix) else prefix + name)
        if plotting._in_notebook():  # show it in order, between this cell's printed lines
            from IPython.display import Image, display

            display(Image(filename=str(path)))
            self.plt.close(fig)
        return path

    # --- verdicts ------------------------------------------------------------------------

    def verdict(self, key: str, holds: bool, if_true: str, if_false: str) -> None:
        """Print the conclusion that matches the measurement (`holds`), record it under key.

        Returns nothing, so that a notebook cell ending in a verdict shows no `Out: True`."""
        holds = bool(holds)
        print(("  -> " if not if_true.startswith(" ") else "") + (if_true if holds else if_false))
        self.verdicts[key] = holds
        if not holds and self.mine:
            print(self._mine_note())
        self._write_record()

    OUTCOMES = ("confirmed", "partly", "corrected")

    def belief(
        self, key: str, claim: str, outcome: str, evidence: str, notes: tuple[int, ...] = ()
    ) -> None:
        """Print and record a learner's belief with the outcome this run's experiment gave.

        claim: the belief in our words; outcome: "confirmed", "partly" or "corrected",
        computed from the run's numbers; evidence: one line with those numbers; notes: the
        numbers of the learner's notes in CURRICULUM.md that this belief covers."""
        if outcome not in self.OUTCOMES:
            raise ValueError(f"belief {key!r}: outcome {outcome!r} is not one of {self.OUTCOMES}")
        if "\n" in evidence:
            raise ValueError(f"belief {key!r}: the evidence is one line")
        print(f"  belief: {claim}\n    -> {outcome.upper()}: {evidence}")
        self.beliefs[key] = {
            "claim": claim,
            "outcome": outcome,
            "evidence": evidence,
            "notes": list(notes),
        }
        self._write_record()

    def summary(self) -> None:
        """Print every belief this run checked, with its outcome and evidence: a lesson's
        closing note. The record is written once more, with what ran after the last
        verdict (under `--mine`, the calls of the learner's functions)."""
        if not self.beliefs:
            print("(no beliefs were checked in this run)")
        for b in self.beliefs.values():
            notes = ", ".join(str(n) for n in b["notes"])
            print(
                f"{b['outcome'].upper():9s} {b['claim']}" + (f"  (notes {notes})" if notes else "")
            )
            print(f"          {b['evidence']}")
        self._write_record()

    def _mine_note(self) -> str:
        """`--mine`: which of the learner's functions the run so far has called."""
        from ..exercises import mine

        called = mine.calls()
        if not called:
            return (
                "     (none of your functions was called so far: this is the library's own result)"
            )
        names = ", ".join(f"{n} ({c:,} call{'' if c == 1 else 's'})" for n, c in called.items())
        return f"     (this ran on YOUR {names}: check them with `tinygrad-edu exercises check`)"

    def _write_record(self) -> None:
        path = self.out / f"{self.name}_verdicts.json"
        record = {"quick": self.quick, "seed": self.seed, "verdicts": self.verdicts}
        if self.mine:
            from ..exercises import mine

            record["mine"] = {"used": [p.name for p in self.mine if p.used], "calls": mine.calls()}
        record["beliefs"] = self.beliefs
        path.write_text(json.dumps(record, indent=1))


def _check_labels(fig: Any, name: str) -> None:
    axes = [ax for ax in fig.axes if getattr(ax, "_colorbar", None) is None]
    titled = bool(fig._suptitle and fig._suptitle.get_text()) or any(ax.get_title() for ax in axes)
    if not titled:
        raise ValueError(f"figure {name!r} has no title")
    for ax in axes:
        if not ax.axison:
            continue
        has_x = len(ax.get_xticks()) > 0 and ax.xaxis.get_visible()
        has_y = len(ax.get_yticks()) > 0 and ax.yaxis.get_visible()
        if ax.images and not (ax.get_xlabel() or ax.get_ylabel()):
            continue  # an image shown as a picture, ticks hidden or not
        if (has_x and not ax.get_xlabel()) or (has_y and not ax.get_ylabel() and not _shared_y(ax)):
            raise ValueError(f"figure {name!r}: a plot without axis labels ({ax.get_title()!r})")


def _shared_y(ax: Any) -> bool:
    """A panel that shares its y axis with the first panel of its row (labelled there)."""
    siblings = ax.get_shared_y_axes().get_siblings(ax)
    return any(s is not ax and s.get_ylabel() for s in siblings)


# --- the small GPT of lessons 5, 6 and 8 ---------------------------------------------------


def lesson_gpt(lesson: Lesson, seed: Optional[int] = None) -> tuple[Any, list, Any]:
    """The character-level GPT of lesson 5: trained with `models/train_gpt.py`, saved in the
    output folder, and reused from there (by lessons 6 and 8, or a second run) when it is
    complete. seed: another training seed than TrainConfig's (its own folder).
    Returns (model in eval mode, the training metrics, the TrainConfig)."""
    from ..checkpoint import remove_run
    from ..models.gpt import GPT
    from ..models.train_gpt import TrainConfig, train

    if seed is None and lesson.seed != 0:  # `--seed N`: a GPT of that seed, in its own folder
        seed = lesson.seed
    if lesson.quick:
        recipe = dict(n_layer=2, n_head=4, n_embd=64, block_size=32, batch_size=16, max_iters=300)
        recipe.update(learning_rate=5e-3, warmup_iters=30)
    else:
        recipe = dict(n_layer=4, n_head=4, n_embd=128, block_size=64, batch_size=12, max_iters=1000)
        recipe.update(learning_rate=2e-3, warmup_iters=100)
    name = (
        "gpt_char_{n_layer}x{n_embd}_T{block_size}_B{batch_size}_{max_iters}it_lr{learning_rate:g}"
    )
    if seed is not None:
        recipe["seed"] = seed
        name += "_seed{seed}"
    cfg = TrainConfig(
        out=str(lesson.out / name.format(**recipe)),
        eval_interval=recipe["max_iters"] // 5,
        eval_iters=10,
        progress=False,
        **recipe,
    )
    state_file = Path(cfg.out) / "train_state.json"
    if state_file.is_file() and json.loads(state_file.read_text()).get("iter") == cfg.max_iters:
        print(f"(reusing the GPT already trained in {cfg.out}; delete that folder to retrain)")
    try:
        metrics = train(cfg, log=lambda line: print("  " + line))
        model = GPT.from_pretrained(cfg.out)
    except (ValueError, KeyError, OSError) as exc:  # a folder left by an older version
        print(f"  (could not reuse {cfg.out}: {exc}; training from scratch)")
        remove_run(cfg.out)  # only what train-gpt wrote there (refused if it holds more)
        metrics = train(cfg, log=lambda line: print("  " + line))
        model = GPT.from_pretrained(cfg.out)
    model.eval()
    return model, metrics, cfg
