"""In a source checkout, the lessons teach from *this* checkout's package.

Each lesson begins

    with contextlib.suppress(ImportError):  # a source checkout: teach from *its* package
        import _common  # noqa: F401  (tutorials/_common.py; a notebook on its own has none)

    from tinygrad_edu.lessons.common import Lesson

Run as `python tutorials/NN_name.py`, or as a notebook inside tutorials/, this file is found
beside the lesson and puts the checkout in front of any other installed tinygrad_edu. A
lesson's notebook on its own (downloaded from the book, opened in Colab) has no _common.py
beside it, and uses the installed package. The preamble itself (`Lesson`, `lesson_gpt`) is
in `tinygrad_edu/lessons/common.py`; `from _common import Lesson` still works.
"""

from __future__ import annotations

import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
if (_ROOT / "tinygrad_edu" / "__init__.py").is_file() and str(_ROOT) not in sys.path:
    sys.path.insert(0, str(_ROOT))

from tinygrad_edu.lessons.common import *  # noqa: E402, F401, F403
