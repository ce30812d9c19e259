"""One token per character: the simplest tokenizer (nanoGPT's shakespeare_char).

The vocabulary is the sorted set of characters of a training text (65 for tiny
Shakespeare); a character's id is its position in it. Simple and exact, but a character
the text did not have has no id at all, and every character costs one position of the
model's context. bpe.py fixes both.
"""

from __future__ import annotations

from collections import Counter
from typing import Any, Iterable

from .base import FORMAT_VERSION, Tokenizer, _check_ids, _check_keys, _check_text


class CharTokenizer(Tokenizer):
    """Character-level tokenizer: token id = position of the character in `chars`.

    >>> tok = CharTokenizer.from_text("hello")
    >>> tok.chars, tok.encode("hell"), tok.decode([1, 0, 2, 2, 3])
    (['e', 'h', 'l', 'o'], [1, 0, 2, 2], 'hello')
    """

    type_name = "char"

    def __init__(self, chars: Iterable[str]):
        chars = list(chars)
        if not chars:
            raise ValueError("a CharTokenizer needs at least one character")
        for i, c in enumerate(chars):
            if not isinstance(c, str) or len(c) != 1:
                raise ValueError(f"chars[{i}] must be a single character, got {c!r}")
        self.chars: list[str] = chars  # id -> character
        self.stoi: dict[str, int] = {c: i for i, c in enumerate(chars)}  # character -> id
        if len(self.stoi) != len(chars):
            dup = next(c for c, k in Counter(chars).items() if k > 1)
            raise ValueError(f"character {dup!r} appears more than once in the vocabulary")

    @classmethod
    def from_text(cls, text: str) -> CharTokenizer:
        """The vocabulary is the sorted set of characters in `text` (sorted: reproducible)."""
        _check_text(text)
        if not text:
            raise ValueError("cannot build a CharTokenizer from an empty text")
        return cls(sorted(set(text)))

    @property
    def vocab_size(self) -> int:
        return len(self.chars)

    def encode(self, text: str) -> list[int]:
        """One id per character: len(encode(text)) == len(text)."""
        _check_text(text)
        stoi = self.stoi
        try:
            return [stoi[c] for c in text]
        except KeyError:
            pos = next(i for i, c in enumerate(text) if c not in stoi)
            raise ValueError(
                f"character {text[pos]!r} at position {pos} is not in the vocabulary "
                f"of this CharTokenizer ({self.vocab_size} characters)"
            ) from None

    def decode(self, ids: Iterable[int]) -> str:
        chars = self.chars
        return "".join([chars[i] for i in _check_ids(ids, self.vocab_size)])

    def to_dict(self) -> dict[str, Any]:
        return {"type": self.type_name, "version": FORMAT_VERSION, "chars": list(self.chars)}

    @classmethod
    def _from_fields(cls, d: dict[str, Any]) -> CharTokenizer:
        _check_keys(d, {"type", "version", "chars"}, required={"chars"})
        if not isinstance(d["chars"], list):
            raise ValueError(
                f'"chars" must be a list of characters, got {type(d["chars"]).__name__}'
            )
        return cls(d["chars"])

    def __repr__(self) -> str:
        return f"CharTokenizer(vocab_size={self.vocab_size})"
