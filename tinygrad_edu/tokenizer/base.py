"""What every tokenizer shares: the interface, the checks on its input, and its file.

`Tokenizer` is the interface (`encode`, `decode`, `vocab_size`) and the JSON file every
tokenizer saves to and loads from: `{"type": "char" | "bpe" | "gpt2", ...}`. Each kind
registers its "type" here as it is defined (char.py, bpe.py, gpt2.py), so that
`Tokenizer.load(path)` builds the right one.

A tokenizer file may come from anywhere, so reading one trusts nothing in it. Anything
malformed -- a wrong type, an id missing, JSON nested too deep for Python, a file too
big -- is a ValueError naming it, found before anything large is allocated. `save`
writes through fileio.py: atomically, never through a link.
"""

from __future__ import annotations

import gzip
import json
import operator
import os
import reprlib
from typing import Any, Iterable

from ..fileio import write_text_atomic

FORMAT_VERSION = 1

Pair = tuple  # (left id, right id), both ints

# What a tokenizer file may cost before it is refused. GPT-2's files are 1-2 MB, and its
# 50,257 tokens hold 0.3 MB of bytes; a file's merges could otherwise make tokens whose
# bytes double at each merge ([97, 97], [256, 256], [257, 257], ...: 2^40 bytes in 40).
MAX_FILE_BYTES = 64 * 2**20
MAX_VOCAB_BYTES = 64 * 2**20  # all tokens' bytes together


def _short(value: object) -> str:
    """repr() for an error message about a file's content: short, and safe on any nesting."""
    return _SHORT.repr(value)


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxstring, _SHORT.maxother = 3, 60, 60


ACCEPTED = (
    'our tokenizer file ({"type": "char" | "bpe" | "gpt2", ...}), a Hugging Face '
    "tokenizer.json of the BPE kind, vocab.json + merges.txt, or encoder.json + vocab.bpe"
)

# "type" -> the class: filled in by Tokenizer.__init_subclass__ as each kind is defined.
_TOKENIZER_TYPES: dict[str, type] = {}


# --- the interface ------------------------------------------------------------------------------


def _check_text(text: object, what: str = "text") -> str:
    if not isinstance(text, str):
        raise TypeError(f"{what} must be a str, got {type(text).__name__}")
    return text


def _check_ids(ids: Iterable[int], vocab_size: int) -> list[int]:
    """Return ids as a list of Python ints, or raise naming the first bad id.

    Accepts any iterable of integers: a list, a tuple, a 1-D NumPy array (what
    `model.generate(...)[0]` gives). A negative id is refused rather than counted from the
    end as Python indexing would: -1 is never a token.
    """
    if isinstance(ids, (str, bytes)):
        raise TypeError(f"decode takes a sequence of token ids, got {type(ids).__name__}")
    if hasattr(ids, "tolist"):  # NumPy arrays: one C call instead of a Python loop
        ids = ids.tolist()
    out = []
    for pos, i in enumerate(ids):
        if isinstance(i, bool):
            raise TypeError(f"token id at position {pos} is a bool ({i}), not an int")
        try:
            i = operator.index(i)  # int, numpy.int64, ... but not 3.0
        except TypeError:
            raise TypeError(
                f"token id at position {pos} must be an integer, got {type(i).__name__} {i!r}"
            ) from None
        if not 0 <= i < vocab_size:
            raise IndexError(f"token id {i} at position {pos} is out of range [0, {vocab_size})")
        out.append(i)
    return out


class Tokenizer:
    """What every tokenizer offers: `encode`, `decode`, `vocab_size`, and JSON save/load.

    `to_dict()` gives a plain JSON-able dict with a `"type"` field (`"char"` or `"bpe"`);
    `Tokenizer.from_dict(d)` / `Tokenizer.load(path)` build the right subclass from it.
    """

    type_name = ""  # "char", "bpe" or "gpt2": the "type" field of the saved file

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.type_name:
            _TOKENIZER_TYPES[cls.type_name] = cls

    @property
    def vocab_size(self) -> int:
        """How many distinct token ids there are: every id is in [0, vocab_size)."""
        raise NotImplementedError

    def encode(self, text: str) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Iterable[int]) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        raise NotImplementedError

    @classmethod
    def _from_fields(cls, d: dict[str, Any]) -> Tokenizer:
        raise NotImplementedError

    @classmethod
    def from_dict(cls, d: Any) -> Tokenizer:
        """Build a tokenizer from `to_dict()`'s output; ValueError if it is malformed.

        On the base class the `"type"` field picks the subclass; on a subclass
        (`CharTokenizer.from_dict`) the type must be that subclass's.
        """
        if not isinstance(d, dict):
            raise ValueError(f"a tokenizer must be a JSON object, got {type(d).__name__}")
        kind = d.get("type")
        if not isinstance(kind, str) or kind not in _TOKENIZER_TYPES:
            raise ValueError(
                f'"type" must be one of {sorted(_TOKENIZER_TYPES)}, got {_short(kind)}; '
                f"accepted: {ACCEPTED}"
            )
        sub = _TOKENIZER_TYPES[kind]
        if cls is not Tokenizer and sub is not cls:
            raise ValueError(f'expected a "{cls.type_name}" tokenizer, found type {kind!r}')
        version = d.get("version", FORMAT_VERSION)
        if isinstance(version, bool) or version != FORMAT_VERSION:
            raise ValueError(
                f'unsupported "version" {_short(version)} (this code reads {FORMAT_VERSION})'
            )
        return sub._from_fields(d)

    def save(self, path: str | os.PathLike) -> None:
        """Write the tokenizer as JSON (UTF-8; non-ASCII characters are \\u-escaped).

        Atomically (a temporary file renamed over `path`): an interrupted save leaves the
        old file whole, and a link at `path` is replaced, never written through."""
        write_text_atomic(path, _format_json(self.to_dict()))

    @classmethod
    def load(cls, path: str | os.PathLike) -> Tokenizer:
        """Read a file written by `save`. Any problem with its content -> ValueError naming it."""
        raw = _read_bytes(os.fspath(path))  # a missing file stays FileNotFoundError
        try:
            d = _parse_json(raw.decode("utf-8"))
        except ValueError as e:  # UnicodeDecodeError and JSONDecodeError are ValueErrors
            raise ValueError(f"tokenizer file {os.fspath(path)!r} is not valid JSON: {e}") from e
        try:
            if isinstance(d, dict) and "type" not in d and "model" in d:  # Hugging Face's
                gpt2 = _TOKENIZER_TYPES["gpt2"]  # GPT-2's kind, the one we read (gpt2.py)
                if cls not in (Tokenizer, gpt2):
                    raise ValueError(
                        f'expected a "{cls.type_name}" tokenizer, found Hugging Face\'s'
                    )
                return gpt2.from_hf_dict(d, source=repr(os.fspath(path)))
            return cls.from_dict(d)
        except ValueError as e:
            if os.fspath(path) in str(e):
                raise
            raise ValueError(f"tokenizer file {os.fspath(path)!r}: {e}") from e


def _format_json(d: dict[str, Any]) -> str:
    """JSON with one list item per line: a merges list stays readable and diff-able."""
    lines = ["{"]
    items = list(d.items())
    for n, (key, value) in enumerate(items):
        comma = "," if n < len(items) - 1 else ""
        if isinstance(value, list) and value:
            lines.append(f"  {json.dumps(key)}: [")
            for k, item in enumerate(value):
                lines.append("    " + json.dumps(item) + ("," if k < len(value) - 1 else ""))
            lines.append("  ]" + comma)
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}{comma}")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _check_keys(d: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    missing = sorted(required - d.keys())
    if missing:
        raise ValueError(f"missing field(s) {missing}")
    unknown = sorted(d.keys() - allowed)
    if unknown:
        raise ValueError(f"unknown field(s) {unknown} (allowed: {sorted(allowed)})")


def _utf8(text: str) -> bytes:
    """UTF-8 bytes of text; ValueError naming a lone surrogate, which UTF-8 cannot hold."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"character {text[e.start]!r} at position {e.start} is a lone surrogate, "
            "which has no UTF-8 bytes (it is half of a UTF-16 pair, not a character)"
        ) from None


def _read_bytes(path: str) -> bytes:
    """The file's bytes (gunzipped for a name ending in .gz), at most MAX_FILE_BYTES."""
    with open(path, "rb") as f:  # a missing file stays FileNotFoundError
        if path.endswith(".gz"):
            try:
                with gzip.GzipFile(fileobj=f) as z:
                    raw = z.read(MAX_FILE_BYTES + 1)
            except (OSError, EOFError) as e:
                raise ValueError(f"{path!r} is not a whole gzip file: {e}") from e
        else:
            raw = f.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(
            f"{path!r} is larger than {MAX_FILE_BYTES // 2**20} MiB: too big for a tokenizer file"
        )
    return raw


def _read_text(path: str) -> str:
    try:
        return _read_bytes(path).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"{path!r} is not UTF-8 text: {e}") from e


def _parse_json(text: str) -> Any:
    """json.loads, with JSON nested too deep for Python refused as a ValueError."""
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(
            "its JSON is nested too deep (arrays or objects inside each other)"
        ) from None


def _read_json(path: str) -> Any:
    text = _read_text(path)
    try:
        return _parse_json(text)
    except ValueError as e:
        raise ValueError(f"{path!r} is not valid JSON: {e}") from e
