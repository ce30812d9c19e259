"""The tiny Shakespeare corpus, shipped inside the package (gzip, ~0.4 MB).

1,115,394 characters of Shakespeare's plays (public domain), as collected for
char-rnn by Andrej Karpathy and used by nanoGPT; 65 distinct characters.
md5 of the text: 6fb458f1232090904fb40fe944165e91.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

MD5 = "6fb458f1232090904fb40fe944165e91"


def load_shakespeare(verify: bool = False) -> str:
    """The whole corpus as one string (verify=True also checks its md5)."""
    raw = resources.files(__package__).joinpath("tinyshakespeare.txt.gz").read_bytes()
    data = gzip.decompress(raw)
    if verify and hashlib.md5(data).hexdigest() != MD5:
        raise ValueError("the embedded tinyshakespeare.txt.gz is corrupted (md5 mismatch)")
    return data.decode("utf-8")


def read_text_file(path: str) -> str:
    """A UTF-8 text file for training; empty or non-UTF-8 files raise ValueError naming the file."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as exc:
        raise FileNotFoundError(f"cannot read training text {path!r}: {exc}") from exc
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValueError(f"{path} is not UTF-8 text ({exc})") from exc
    if not text:
        raise ValueError(f"{path} is empty: there is nothing to train on")
    return text
