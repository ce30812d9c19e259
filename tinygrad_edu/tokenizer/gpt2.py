"""GPT-2's own tokenizer: the byte-level BPE of bpe.py with GPT-2's vocabulary and files.

GPT-2's tokenizer is the byte-level BPE of bpe.py, trained by OpenAI on 40 GB of web text
with 50,000 merges. Encoding is the same loop, bpe.py's `merge_naive` / `merge_by_rank`:
cut the text into chunks, turn each chunk into byte tokens, apply the lowest-ranked merge
present until none applies. What differs is bookkeeping, so that our ids are GPT-2's ids
("Hello world" -> [15496, 995]):
  * GPT-2 numbers its tokens in its own order. The 256 byte tokens are ids 0..255 but not
    in byte order ("!" is 0), and the token a merge makes has whatever id the vocabulary
    file gives it. So we keep the id of each byte, and for merge r the id it produces.
  * Its files write every token as text, one printable character per byte
    (`bytes_to_unicode`): the space byte is "Ġ", so " the" is written "Ġthe".
  * One more token, "<|endoftext|>" (id 50256), is not made by merges: it marks where a
    document ends in the training data, so a model that emits it means "the text is over".
    Plain `encode` reads those characters as text, like GPT-2's own encoder.py did; only
    `encode(text, allowed_special=True)` turns them into the single id 50256.
  * The pre-tokenizer is GPT-2's pattern exactly (`gpt2_regex`), see below.

The three ways GPT-2's vocabulary is published, all read here (`load_tokenizer`):
  encoder.json + vocab.bpe      OpenAI's original files: token -> id, and the merges in
                                rank order, one "left right" per line after "#version";
  vocab.json + merges.txt       the same two files under Hugging Face's names;
  tokenizer.json                Hugging Face's single file: {"model": {"type": "BPE",
                                "vocab": {...}, "merges": [...]}, "added_tokens": [...]}.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import unicodedata
from typing import Any, Callable, Iterable, Sequence

from .base import (
    FORMAT_VERSION,
    Pair,
    Tokenizer,
    _check_ids,
    _check_keys,
    _check_text,
    _read_bytes,
    _read_json,
    _read_text,
    _short,
    _utf8,
)
from .bpe import encode_chunks, merge_by_rank, merge_naive

GPT2_PATTERN = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
"""GPT-2's split pattern as OpenAI wrote it, for the `regex` package (`\\p{L}`: any letter,
`\\p{N}`: any number, `\\s`: Unicode White_Space). `gpt2_regex()` is the same pattern for
Python's built-in `re`."""

# Unicode's White_Space property, which is what `\s` means in GPT-2's (and tiktoken's) regex
# engine. Python's str.isspace() differs: it also counts the separators \x1c-\x1f.
WHITE_SPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"

_GPT2_REGEX: re.Pattern | None = None


def _char_ranges(is_in: Callable[[str], bool]) -> str:
    """Every code point c with is_in(chr(c)), as a `re` character-class body of ranges."""
    parts, start = [], None
    for c in range(sys.maxunicode + 2):
        inside = c <= sys.maxunicode and is_in(chr(c))
        if inside and start is None:
            start = c
        elif not inside and start is not None:
            parts.append(f"\\U{start:08x}-\\U{c - 1:08x}")
            start = None
    return "".join(parts)


def gpt2_regex() -> re.Pattern:
    """GPT2_PATTERN compiled with Python's built-in `re`, which has no \\p{L} or \\p{N}.

    We spell them out: \\p{L} is every code point whose Unicode category starts with "L"
    (Lu Ll Lt Lm Lo: what str.isalpha() tests), \\p{N} every one in Nd Nl No (digits, but
    also Roman numerals and ½). Both become explicit ranges, [\\U00000041-\\U0000005a...],
    built once (a scan of all 1.1 million code points, about a third of a second) and then
    matched by `re` at C speed. \\s becomes WHITE_SPACE. The only difference left is the
    Unicode version: a letter added to Unicode after this Python's `unicodedata`
    (`unicodedata.unidata_version`) is not a letter here.
    """
    global _GPT2_REGEX
    if _GPT2_REGEX is None:
        L = _char_ranges(str.isalpha)
        N = _char_ranges(lambda ch: unicodedata.category(ch)[0] == "N")
        S = WHITE_SPACE
        _GPT2_REGEX = re.compile(
            rf"'(?:[sdmt]|ll|ve|re)| ?[{L}]+| ?[{N}]+| ?[^{S}{L}{N}]+|[{S}]+(?![^{S}])|[{S}]+"
        )
    return _GPT2_REGEX


def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's table byte value -> the character its files write for it.

    Printable bytes stand for themselves ("A" is "A", "é"'s byte 0xE9 is "é"); the other
    68 (control bytes, the space, a few Latin-1 ones) are moved to U+0100 and up, in byte
    order, so that no token's text holds a space or a newline: " " is "Ġ", "\\n" is "Ċ".
    """
    printable = [
        *range(ord("!"), ord("~") + 1),
        *range(ord("¡"), ord("¬") + 1),
        *range(ord("®"), ord("ÿ") + 1),
    ]
    table = {b: chr(b) for b in printable}
    moved = 0
    for b in range(256):
        if b not in table:
            table[b] = chr(256 + moved)
            moved += 1
    return dict(sorted(table.items()))


ENDOFTEXT = "<|endoftext|>"


class GPT2Tokenizer(Tokenizer):
    """GPT-2's byte-level BPE, from its vocabulary (token -> id) and its ranked merges.

    >>> tok = GPT2Tokenizer.from_bundled()                 # the files shipped in the package
    >>> tok.encode("Hello world"), tok.decode([15496, 995])
    ([15496, 995], 'Hello world')
    >>> tok.pieces("Tokenization isn't hard")
    ['Token', 'ization', ' isn', "'t", ' hard']

    `encoder`: token text (in `bytes_to_unicode`'s alphabet) -> id, special tokens included.
    `merges`: (left, right) token texts, rank 0 first. `special_tokens`: the tokens matched
    only by `encode(..., allowed_special=True)`; None finds them: tokens of the vocabulary
    that are neither a byte nor made by a merge (for GPT-2: "<|endoftext|>").
    `source` names the file(s), for error messages.
    """

    type_name = "gpt2"

    def __init__(
        self,
        encoder: dict[str, int],
        merges: Iterable[Sequence[str]],
        special_tokens: Iterable[str] | None = None,
        source: str = "GPT-2 vocabulary",
    ):
        self.source = source
        if not isinstance(encoder, dict) or not encoder:
            raise ValueError(f"{source}: the vocabulary must be a non-empty token -> id map")
        for token, i in encoder.items():
            if not isinstance(token, str) or isinstance(i, bool) or not isinstance(i, int):
                raise ValueError(
                    f"{source}: vocabulary entry {_short(token)}: {_short(i)} is not str -> int"
                )
        n = len(encoder)
        ids = sorted(encoder.values())
        if ids != list(range(n)):
            k, i = next((k, i) for k, i in enumerate(ids) if i != k)
            fault = f"id {i} appears twice" if k and ids[k - 1] == i else f"id {k} is missing"
            if i < 0:
                fault = f"id {i} is negative"
            raise ValueError(f"{source}: token ids must be 0..{n - 1}, each once; {fault}")
        self.encoder = dict(encoder)
        self.tokens = [""] * n  # id -> token text, as the files write it
        for token, i in encoder.items():
            self.tokens[i] = token
        byte_char = bytes_to_unicode()
        char_byte = {c: b for b, c in byte_char.items()}
        missing = [c for c in byte_char.values() if c not in encoder]
        if missing:
            raise ValueError(f"{source}: the vocabulary lacks the byte token(s) {missing[:5]}")
        self._byte_ids = [encoder[byte_char[b]] for b in range(256)]  # byte value -> its id

        # The merges, checked against the vocabulary: both halves and the result must be
        # tokens. A merges file from another vocabulary fails here, not with silent garbage.
        self._rank: dict[Pair, int] = {}  # (left id, right id) -> rank r
        self._merged: list[int] = []  # rank r -> id of the token merge r makes
        self.merges: list[tuple[str, str]] = []
        for r, merge in enumerate(merges):
            if (
                not isinstance(merge, Sequence)
                or isinstance(merge, str)
                or len(merge) != 2
                or not all(isinstance(t, str) for t in merge)
            ):
                raise ValueError(f"{source}: merge {r} must be two tokens, got {_short(merge)}")
            a, b = merge
            for t in (a, b, a + b):
                if t not in encoder:
                    raise ValueError(
                        f"{source}: merge {r} ({_short(a)} {_short(b)}): {_short(t)} is not in "
                        "the vocabulary "
                        "(are the merges and the vocabulary from the same tokenizer?)"
                    )
            pair = (encoder[a], encoder[b])
            if pair in self._rank:
                raise ValueError(
                    f"{source}: merge {r} ({_short(a)} {_short(b)}) repeats merge "
                    f"{self._rank[pair]}"
                )
            self._rank[pair] = r
            self._merged.append(encoder[a + b])
            self.merges.append((a, b))

        made = {a + b for a, b in self.merges} | set(byte_char.values())
        if special_tokens is None:
            special_tokens = [t for t in encoder if t not in made]
        if isinstance(special_tokens, (str, dict)) or not isinstance(special_tokens, Iterable):
            raise ValueError(f"{source}: special tokens must be a list of tokens")
        self.special_tokens: dict[str, int] = {}  # "<|endoftext|>" -> 50256
        for t in special_tokens:
            if not isinstance(t, str) or t not in encoder:
                raise ValueError(f"{source}: special token {_short(t)} is not in the vocabulary")
            self.special_tokens[t] = encoder[t]
        self.eot_id: int | None = self.special_tokens.get(ENDOFTEXT)

        # id -> the bytes it stands for. A special token's bytes are its UTF-8 text.
        self.vocab: list[bytes] = []
        for i, token in enumerate(self.tokens):
            if token in self.special_tokens:
                self.vocab.append(token.encode("utf-8"))
            elif all(c in char_byte for c in token):
                self.vocab.append(bytes(char_byte[c] for c in token))
            else:
                bad = next(c for c in token if c not in char_byte)
                raise ValueError(
                    f"{source}: token {_short(token)} (id {i}) has {bad!r}, which is not in GPT-2's "
                    "byte alphabet (is this a byte-level BPE vocabulary?)"
                )
        self._cache: dict[str, list[int]] = {}  # chunk -> its ids (words repeat a lot)
        self._special_regex: re.Pattern | None = None  # made on first use (see encode)

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    # -- encoding --

    def encode(self, text: str, allowed_special: bool = False) -> list[int]:
        """Text -> GPT-2's ids. Special tokens' text is plain text unless allowed_special."""
        _check_text(text)
        _utf8(text)  # ValueError naming a lone surrogate, before any work
        if not allowed_special or not self.special_tokens:
            return self._encode_ordinary(text)
        if self._special_regex is None:  # the longest first: "<|a|>b" before "<|a|>"
            longest_first = sorted(self.special_tokens, key=len)[::-1]
            self._special_regex = re.compile("|".join(re.escape(t) for t in longest_first))
        ids: list[int] = []
        end = 0
        for m in self._special_regex.finditer(text):
            ids += self._encode_ordinary(text[end : m.start()])
            ids.append(self.special_tokens[m.group()])
            end = m.end()
        return ids + self._encode_ordinary(text[end:])

    def _encode_ordinary(self, text: str) -> list[int]:
        """Chunks by GPT-2's pattern (it matches every character), each encoded once."""
        return encode_chunks(gpt2_regex().findall(text), self._encode_bytes, self._cache)

    def _encode_bytes(self, data: bytes) -> list[int]:
        return self._encode_word([self._byte_ids[b] for b in data])

    def _encode_word(self, ids: list[int]) -> list[int]:
        """A chunk's byte tokens -> its ids: `merge_by_rank`, GPT-2's ids for each merge."""
        return merge_by_rank(ids, self._rank, self._merged)

    def encode_naive(self, text: str) -> list[int]:
        """`encode` the plain way, the readable twin: no cache, `merge_naive`."""
        _check_text(text)
        _utf8(text)
        ids: list[int] = []
        for chunk in gpt2_regex().findall(text):
            byte_tokens = [self._byte_ids[b] for b in chunk.encode("utf-8")]
            ids += merge_naive(byte_tokens, self._rank, self._merged)
        return ids

    # -- decoding --

    def decode(self, ids: Iterable[int]) -> str:
        """Join the tokens' bytes, decode as UTF-8 (errors="replace", as tiktoken does)."""
        try:
            checked = _check_ids(ids, self.vocab_size)
        except IndexError as e:
            raise IndexError(f"{e}: not a token of {self.source}") from None
        vocab = self.vocab
        return b"".join([vocab[i] for i in checked]).decode("utf-8", errors="replace")

    def pieces(self, text: str) -> list[str]:
        """The text of each token of `text`: how GPT-2 cuts it ("\\ufffd" for a token
        holding part of a character)."""
        return [self.decode([i]) for i in self.encode(text)]

    # -- reading GPT-2's files --

    @classmethod
    def from_files(
        cls, vocab_path: str | os.PathLike, merges_path: str | os.PathLike
    ) -> GPT2Tokenizer:
        """encoder.json + vocab.bpe, or vocab.json + merges.txt (the same formats).

        Either may be gzip-compressed (a name ending in .gz).
        """
        vocab_path, merges_path = os.fspath(vocab_path), os.fspath(merges_path)
        source = f"{vocab_path!r} + {merges_path!r}"
        encoder = _read_json(vocab_path)
        if not isinstance(encoder, dict):
            raise ValueError(f"{vocab_path!r}: expected a JSON object token -> id")
        merges = []
        for n, line in enumerate(_read_text(merges_path).split("\n"), start=1):
            if line.startswith("#version") or not line.strip():
                continue
            parts = line.split(" ")
            if len(parts) != 2 or not all(parts):
                raise ValueError(f"{merges_path!r} line {n}: expected 'left right', got {line!r}")
            merges.append(parts)
        return cls(encoder, merges, source=source)

    @classmethod
    def from_hf_dict(cls, d: dict[str, Any], source: str = "tokenizer.json") -> GPT2Tokenizer:
        """A Hugging Face tokenizer.json, parsed: GPT-2's kind (byte-level BPE) only."""
        model = d.get("model")
        if not isinstance(model, dict):
            raise ValueError(f'{source}: no "model" object: not a Hugging Face tokenizer.json')
        kind = model.get("type", "BPE" if "merges" in model else None)
        if kind != "BPE":
            raise ValueError(
                f"{source}: a Hugging Face tokenizer of kind {_short(kind)}; only byte-level "
                "BPE (GPT-2's kind) is supported here"
            )
        pre = d.get("pre_tokenizer") or {}
        if not isinstance(pre, dict):
            raise ValueError(f'{source}: "pre_tokenizer" must be an object')
        if pre.get("type") != "ByteLevel" or not pre.get("use_regex", True):
            raise ValueError(
                f"{source}: pre_tokenizer {_short(pre.get('type'))} is not GPT-2's (ByteLevel "
                "with its regex); only GPT-2-style byte-level BPE is supported here"
            )
        if pre.get("add_prefix_space"):
            raise ValueError(f"{source}: add_prefix_space=true is not supported (GPT-2: false)")
        if d.get("normalizer"):
            raise ValueError(f"{source}: a normalizer is not supported (GPT-2 has none)")
        vocab, merges, added = model.get("vocab"), model.get("merges"), d.get("added_tokens")
        if not isinstance(vocab, dict):
            raise ValueError(f'{source}: "model.vocab" must be an object token -> id')
        if not isinstance(merges, list):
            raise ValueError(f'{source}: "model.merges" must be a list')
        if added is not None and not isinstance(added, list):
            raise ValueError(f'{source}: "added_tokens" must be a list')
        encoder = dict(vocab)
        merges = [m.split(" ") if isinstance(m, str) else m for m in merges]
        for n, t in enumerate(added or []):
            if not (isinstance(t, dict) and isinstance(t.get("content"), str) and "id" in t):
                raise ValueError(
                    f'{source}: added_tokens[{n}] must be an object with "content" and "id", '
                    f"got {_short(t)}"
                )
            encoder.setdefault(t["content"], t["id"])
        special = [t["content"] for t in added] if added else None
        return cls(encoder, merges, special_tokens=special, source=source)

    @classmethod
    def from_bundled(cls) -> GPT2Tokenizer:
        """GPT-2's vocabulary shipped in this package (tinygrad_edu/data/gpt2/, see its
        README): works offline, checked against OpenAI's published sha256."""
        package = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        folder = os.path.join(package, "data", "gpt2")
        paths = [os.path.join(folder, f) for f in ("encoder.json.gz", "vocab.bpe.gz")]
        for path in paths:
            digest = hashlib.sha256(_read_bytes(path)).hexdigest()
            expected = GPT2_SHA256[os.path.basename(path)[: -len(".gz")]]
            if digest != expected:
                raise ValueError(f"{path!r} is corrupted (sha256 {digest}, expected {expected})")
        return cls.from_files(*paths)

    # -- our own file format: the same content, with "type": "gpt2" --

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type_name,
            "version": FORMAT_VERSION,
            "encoder": self.encoder,
            "merges": [f"{a} {b}" for a, b in self.merges],
            "special_tokens": list(self.special_tokens),
        }

    @classmethod
    def _from_fields(cls, d: dict[str, Any]) -> GPT2Tokenizer:
        _check_keys(
            d, {"type", "version", "encoder", "merges", "special_tokens"}, {"encoder", "merges"}
        )
        if not isinstance(d["merges"], list):
            raise ValueError('"merges" must be a list of "left right" strings')
        merges = [m.split(" ") if isinstance(m, str) else m for m in d["merges"]]
        return cls(d["encoder"], merges, d.get("special_tokens"), source='a "gpt2" tokenizer')

    def __repr__(self) -> str:
        return f"GPT2Tokenizer(vocab_size={self.vocab_size}, source={self.source})"


# OpenAI's published sha256 of GPT-2's files (the same as tiktoken checks on download).
GPT2_SHA256 = {
    "encoder.json": "196139668be63f3b5d6574427317ae82f612a97c5d1cdaf36ed2256dbf636783",
    "vocab.bpe": "1ce1664773c50f3e0cc8842619a93edc4624525b728b188a9e0be33b7726adc5",
}
