"""The Book of Genesis, King James Version (1611): the capstone's default text, shipped
inside the package (gzip, ~57 kB), so that lesson 12 has a text other than Shakespeare.

Public domain. Taken from Debian's `bible-kjv-text` package (the Bible Retrieval System's
data, "provided for unrestricted use"), printed with its `bible` program, with the verse
references ("Ge1:1 ") removed: one verse per line, 196,818 characters, 60 distinct.
sha256 of the text: e7b72bfd25d395f55a3bd0c1ada5cbf3fd627f61734d239503d834ac9b5e23b6.
"""

from __future__ import annotations

import gzip
import hashlib
from importlib import resources

SHA256 = "e7b72bfd25d395f55a3bd0c1ada5cbf3fd627f61734d239503d834ac9b5e23b6"
SOURCE = "The Book of Genesis, King James Version (1611), public domain"


def load_genesis(verify: bool = False) -> str:
    """The whole text as one string (verify=True also checks its sha256)."""
    raw = resources.files(__package__).joinpath("genesis_kjv.txt.gz").read_bytes()
    data = gzip.decompress(raw)
    if verify and hashlib.sha256(data).hexdigest() != SHA256:
        raise ValueError("the embedded genesis_kjv.txt.gz is corrupted (sha256 mismatch)")
    return data.decode("utf-8")
