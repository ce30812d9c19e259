"""Lesson 5: turning text into tokens, the numbers a GPT reads and predicts.

A GPT never sees letters. It sees a sequence of integers, *token ids*, each in
`[0, vocab_size)`, and it learns to predict the next token from the tokens before it
(lecture 5). The embedding matrix has one row per token id, the unembedding one score
per token id, so `vocab_size` is baked into the model's shape. A tokenizer is the fixed
dictionary between text and ids:

    encode: str -> list[int]      every id in [0, vocab_size)
    decode: list[int] -> str      decode(encode(s)) == s

Two tokenizers, read them in this order:

1. `CharTokenizer`: one token per character, the vocabulary being the sorted set of
   characters of a training text (nanoGPT's shakespeare_char: 65 characters for tiny
   Shakespeare). Simple and exact, but a character it has not seen has no id at all, and
   every character costs one position of the context.
2. `BPETokenizer`: byte-level Byte Pair Encoding, the idea behind GPT-2's tokenizer.
   - *Why bytes.* Every string is a sequence of UTF-8 bytes, and there are only 256 byte
     values. Starting from those 256 tokens, every string is representable: emoji,
     Chinese, a NUL character. There is no "unknown token".
   - *Why merge frequent pairs.* Bytes alone make long sequences ("the" is 3 tokens).
     Training repeatedly finds the most frequent adjacent pair of tokens and makes it a
     new token: "t" "h" -> "th", then "th" "e" -> "the". Each merge adds one token to
     the vocabulary and shortens the encoded text. Shorter sequences mean more text fits
     in the model's context window, and the cost of attention grows with the *square* of
     the context length (lecture 7), so every token saved is worth a lot.
   - The trade-off: a bigger vocabulary means bigger embedding and unembedding matrices
     and rarer tokens, each seen less often during training.
3. `GPT2Tokenizer`: the same byte-level BPE with GPT-2's real vocabulary (50,257 tokens,
   OpenAI's files, shipped in the package: `GPT2Tokenizer.from_bundled()`), giving
   exactly GPT-2's ids, so that a downloaded GPT-2 can be prompted and read.
4. `save` / `load_tokenizer`: a small JSON file (`tokenizer.json` beside a checkpoint),
   so that a model is always decoded with the dictionary it was trained with;
   `load_tokenizer` also reads GPT-2's files in each of their published forms.
   A file may come from anywhere, so loading trusts nothing in it: anything malformed
   (a wrong type, an id missing, JSON nested too deep, a file too big, tokens whose
   bytes would fill the memory, a split pattern we do not know) is a ValueError naming
   it, found before any large allocation; a model folder's tokenizer must have the
   model's vocabulary size. `save` writes through fileio.py: atomically, never
   through a link.

Invariants of a BPE tokenizer with merges `m_0, m_1, ...`:
- ids 0..255 are the raw byte values; id `256 + r` is merge `r` = the pair `(a, b)`
  with `a, b < 256 + r` (a merge only combines tokens that already exist), and its
  bytes are `bytes(a) + bytes(b)`. So `vocab_size == 256 + len(merges)`.
- Encoding applies merges in rank order (merge 0 first), exactly as training did, so
  encoding the training text reproduces the tokens training ended with.

Only the Python standard library (and fileio.py, for writing) is used.
"""

from __future__ import annotations

import gzip
import hashlib
import heapq
import json
import operator
import os
import re
import reprlib
import sys
import unicodedata
from collections import Counter
from typing import Any, Callable, Iterable, Sequence

from .fileio import write_text_atomic

__all__ = [
    "Tokenizer",
    "CharTokenizer",
    "BPETokenizer",
    "GPT2Tokenizer",
    "GPT2_LIKE_PATTERN",
    "GPT2_PATTERN",
    "gpt2_regex",
    "bytes_to_unicode",
    "pre_tokenize",
    "merge_pair",
    "load_tokenizer",
]

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


# --- the shared interface --------------------------------------------------------------------


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

    type_name = ""  # "char" or "bpe": the "type" field of the saved file

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
                if cls not in (Tokenizer, GPT2Tokenizer):
                    raise ValueError(
                        f'expected a "{cls.type_name}" tokenizer, found Hugging Face\'s'
                    )
                return GPT2Tokenizer.from_hf_dict(d, source=repr(os.fspath(path)))
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


# --- 1. one token per character --------------------------------------------------------------


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


def _check_keys(d: dict[str, Any], allowed: set[str], required: set[str]) -> None:
    missing = sorted(required - d.keys())
    if missing:
        raise ValueError(f"missing field(s) {missing}")
    unknown = sorted(d.keys() - allowed)
    if unknown:
        raise ValueError(f"unknown field(s) {unknown} (allowed: {sorted(allowed)})")


# --- 2. byte-level BPE -----------------------------------------------------------------------

# The pre-tokenizer: before BPE, text is cut into chunks, and merges never cross a chunk
# boundary. Without it, the most frequent pairs of English are things like "e" + " " and
# " " + "t", and tokens such as "e t" or "dog." appear, gluing the end of one word to the
# start of the next; with it, tokens are words, word pieces, numbers, punctuation runs.
# The pattern is GPT-2's, rewritten for Python's built-in `re` (which has no \p{L}):
#   '(?:[sdmt]|ll|ve|re)     English contractions: 's 't 'll 've 're 'd 'm
#    ?[^\W\d_]+              a word (letters), with at most one space before it
#    ?\d+                    a number (decimal digits), with at most one space before it
#    ?(?:[^\s\w]|_)+         punctuation and symbols: not space, not letter, not digit
#   \s+(?!\S)                whitespace, leaving its last space to the next word...
#   \s+                      ...or all of it, at the end of the text
# ([^\W\d_] is "a word character that is not a digit or _": letters, plus a few numeric
# symbols like ½ that Python counts as alphanumeric.)
GPT2_LIKE_PATTERN = r"'(?:[sdmt]|ll|ve|re)| ?[^\W\d_]+| ?\d+| ?(?:[^\s\w]|_)+|\s+(?!\S)|\s+"
KNOWN_PATTERNS = (GPT2_LIKE_PATTERN, None)  # the split patterns a tokenizer file may name


def merge_by_rank(ids: list[int], rank: dict, merged: Sequence[int]) -> list[int]:
    """Apply learned merges to ids, lowest rank first, leftmost first among equals: the
    same result as calling `merge_pair` for each rank in turn, in O(len log len).

    `rank` maps a pair of ids to its merge rank r; `merged[r]` is the id the pair becomes.
    The ids sit in a linked list (nxt/prv); a heap holds (rank, position) for every
    adjacent pair that is a merge. Popping gives the next merge to apply. A merge changes
    only the two pairs around it, so only those are pushed; entries it made stale are
    skipped when they come out.
    """
    n = len(ids)
    if n < 2:
        return ids
    ids = list(ids)
    nxt = list(range(1, n + 1))
    nxt[-1] = -1
    prv = list(range(-1, n - 1))
    heap = [(rank[p], i) for i, p in enumerate(zip(ids, ids[1:])) if p in rank]
    heapq.heapify(heap)
    while heap:
        r, p = heapq.heappop(heap)
        q = nxt[p]
        if ids[p] < 0 or q < 0 or rank.get((ids[p], ids[q])) != r:
            continue  # stale: this place changed since it was pushed
        m = merged[r]
        ids[p], ids[q] = m, -1  # p takes the merged token, q leaves the list
        right = nxt[q]
        nxt[p] = right
        if right >= 0:
            prv[right] = p
            r2 = rank.get((m, ids[right]))
            if r2 is not None:
                heapq.heappush(heap, (r2, p))
        left = prv[p]
        if left >= 0:
            r2 = rank.get((ids[left], m))
            if r2 is not None:
                heapq.heappush(heap, (r2, left))
    return [t for t in ids if t >= 0]


def pre_tokenize(text: str, pattern: str | re.Pattern | None = GPT2_LIKE_PATTERN) -> list[str]:
    """Cut text into chunks with `pattern`; `"".join(chunks) == text` always.

    >>> pre_tokenize("Hello world, it's 2024!")
    ['Hello', ' world', ',', ' it', "'s", ' 2024', '!']

    `pattern=None` means no pre-tokenizer: the whole text is one chunk. Any stretch of text
    the pattern does not match becomes a chunk of its own, so no character is ever lost,
    whatever pattern is used.
    """
    if pattern is None:
        return [text] if text else []
    regex = re.compile(pattern) if isinstance(pattern, str) else pattern
    chunks, end = [], 0
    for m in regex.finditer(text):
        if m.start() == m.end():  # a pattern that can match "" must not loop or lose text
            continue
        if m.start() > end:
            chunks.append(text[end : m.start()])
        chunks.append(m.group())
        end = m.end()
    if end < len(text):
        chunks.append(text[end:])
    return chunks


def merge_pair(ids: Sequence[int], pair: Pair, new_id: int) -> list[int]:
    """Replace every occurrence of `pair` in `ids` by `new_id`, scanning left to right.

    >>> merge_pair([116, 104, 101, 32, 116, 104], (116, 104), 256)
    [256, 101, 32, 256]
    >>> merge_pair([97, 97, 97], (97, 97), 256)   # overlapping: the leftmost wins
    [256, 97]
    """
    a, b = pair
    out, i, n = [], 0, len(ids)
    while i < n:
        if i + 1 < n and ids[i] == a and ids[i + 1] == b:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return out


# Training finds the merges. Both trainers below work on the *distinct* chunks with their
# counts: " the" may occur 5,000 times in the text but is stored once with count 5,000, and
# each of its pairs counts 5,000 times. Both pick, at every step, the pair with the highest
# count, breaking ties by the smallest pair: compare the left ids, then the right ids
# (so (101, 32) beats (104, 101)). That rule depends only on the counts, not on the order of
# the text or of a dict, so training is deterministic. Both stop early if no pair is left.


def _learn_merges_naive(chunk_counts: dict[bytes, int], num_merges: int) -> list[tuple[Pair, int]]:
    """The plain algorithm: recount every pair of every chunk before each merge.

    Returns [(pair, count when merged), ...]. Costs O(num_merges * total chunk length):
    fine for a page of text, slow for a book. `_learn_merges` does the same, faster.
    """
    words = [(list(chunk), count) for chunk, count in chunk_counts.items()]
    merges: list[tuple[Pair, int]] = []
    while len(merges) < num_merges:
        pair_counts: Counter = Counter()
        for ids, count in words:
            for pair in zip(ids, ids[1:]):
                pair_counts[pair] += count
        if not pair_counts:
            break  # every chunk is a single token: nothing left to merge
        best = min(pair_counts, key=lambda p: (-pair_counts[p], p))  # most frequent, then smallest
        new_id = 256 + len(merges)
        words = [(merge_pair(ids, best, new_id), count) for ids, count in words]
        merges.append((best, pair_counts[best]))
    return merges


def _learn_merges(chunk_counts: dict[bytes, int], num_merges: int) -> list[tuple[Pair, int]]:
    """The same merges as `_learn_merges_naive`, with incremental pair counts.

    Recounting everything after each merge is wasteful: merging (a, b) -> m at one place
    `... x a b y ...` changes only the pairs around it:
        (x, a) -1   (a, b) -1   (b, y) -1        (x, m) +1   (m, y) +1
    So we keep
      - the tokens of all distinct chunks laid end to end in one array, as a doubly linked
        list (`nxt`/`prv` hold neighbour positions, -1 at a chunk's ends), so removing a
        token is O(1); `weight[p]` is the count of the chunk holding position p;
      - `counts[pair]`: how often each pair occurs (weighted by chunk counts);
      - `where[pair]`: positions where the pair may start (checked before use: entries go
        stale as tokens merge, and are simply skipped);
      - a heap of (-count, pair) to find the best pair fast; an entry whose count is no
        longer the pair's current count is stale and skipped (a fresh one was pushed when
        the count changed).
    Each merge then costs time proportional to the number of places it happens, not to the
    length of the text.
    """
    tok: list[int] = []  # token id at each position; -1 once merged into its left neighbour
    nxt: list[int] = []
    prv: list[int] = []
    weight: list[int] = []
    for chunk, count in chunk_counts.items():
        if len(chunk) < 2:
            continue  # a single byte has no pair: it can never take part in a merge
        start, last = len(tok), len(chunk) - 1
        for k, byte in enumerate(chunk):
            tok.append(byte)
            weight.append(count)
            prv.append(start + k - 1 if k > 0 else -1)
            nxt.append(start + k + 1 if k < last else -1)

    counts: dict[Pair, int] = {}
    where: dict[Pair, set[int]] = {}
    for p, q in enumerate(nxt):
        if q >= 0:
            pair = (tok[p], tok[q])
            counts[pair] = counts.get(pair, 0) + weight[p]
            where.setdefault(pair, set()).add(p)
    heap = [(-c, pair) for pair, c in counts.items()]
    heapq.heapify(heap)

    def change(pair: Pair, delta: int) -> None:
        c = counts.get(pair, 0) + delta
        if c:
            counts[pair] = c
            heapq.heappush(heap, (-c, pair))
        else:
            del counts[pair]

    merges: list[tuple[Pair, int]] = []
    while len(merges) < num_merges:
        while heap and counts.get(heap[0][1], 0) != -heap[0][0]:
            heapq.heappop(heap)  # stale entry
        if not heap:
            break  # nothing left to merge
        neg_count, pair = heapq.heappop(heap)
        a, b = pair
        m = 256 + len(merges)
        # Left to right (positions only grow along a chunk), as merge_pair does: in
        # "a a a" the pair (a, a) merges at the first place only.
        for p in sorted(where.pop(pair)):
            q = nxt[p]
            if tok[p] != a or q < 0 or tok[q] != b:
                continue  # stale: this place changed since it was recorded
            w, left, right = weight[p], prv[p], nxt[q]
            if left >= 0:  # x a b -> x m
                x = tok[left]
                change((x, a), -w)
                change((x, m), +w)
                where.setdefault((x, m), set()).add(left)
            if right >= 0:  # a b y -> m y
                y = tok[right]
                change((b, y), -w)
                change((m, y), +w)
                where.setdefault((m, y), set()).add(p)
            change(pair, -w)
            tok[p], tok[q] = m, -1  # p becomes m; q is unlinked
            nxt[p] = right
            if right >= 0:
                prv[right] = p
        assert pair not in counts, "every occurrence of the merged pair should be gone"
        merges.append((pair, -neg_count))
    return merges


class BPETokenizer(Tokenizer):
    """Byte-level Byte Pair Encoding.

    >>> tok = BPETokenizer().train("the the the then they", vocab_size=259)
    >>> tok.merges                       # 'h'+'e', then 't'+'he', then ' '+'the'
    [(104, 101), (116, 256), (32, 257)]
    >>> tok.encode(" the"), tok.decode([257, 32, 104])
    ([258], 'the h')

    `pattern` is the pre-tokenizer's regex (`GPT2_LIKE_PATTERN` by default); pass
    `pattern=None` to turn pre-tokenization off and let merges cross word boundaries.
    """

    type_name = "bpe"

    def __init__(
        self, merges: Iterable[Sequence[int]] = (), pattern: str | None = GPT2_LIKE_PATTERN
    ):
        if pattern is not None:
            if not isinstance(pattern, str):
                raise ValueError(f"pattern must be a str or None, got {type(pattern).__name__}")
            try:
                self._regex: re.Pattern | None = re.compile(pattern)
            except re.error as e:
                raise ValueError(
                    f"pattern {pattern!r} is not a valid regular expression: {e}"
                ) from e
        else:
            self._regex = None
        self.pattern = pattern
        self._set_merges(merges)

    def _set_merges(self, merges: Iterable[Sequence[int]]) -> None:
        """Check the merges and build the tables derived from them."""
        checked: list[Pair] = []
        rank: dict[Pair, int] = {}  # pair -> its merge index r (the new token is 256 + r)
        vocab = [bytes([i]) for i in range(256)]  # id -> the bytes it stands for
        total = 256  # bytes in all tokens so far
        for r, merge in enumerate(merges):
            if (
                isinstance(merge, (str, bytes))
                or not isinstance(merge, Sequence)
                or len(merge) != 2
            ):
                raise ValueError(f"merge {r} must be a pair of token ids, got {_short(merge)}")
            for t in merge:
                if isinstance(t, bool) or not isinstance(t, int):
                    raise ValueError(f"merge {r} {_short(list(merge))}: ids must be integers")
                if not 0 <= t < 256 + r:  # a merge may only use tokens that already exist
                    raise ValueError(
                        f"merge {r} {list(merge)!r}: id {t} is not in [0, {256 + r}) "
                        f"(the tokens that exist before merge {r})"
                    )
            pair = (merge[0], merge[1])
            if pair in rank:
                raise ValueError(f"merge {r} {list(pair)!r} repeats merge {rank[pair]}")
            total += len(vocab[pair[0]]) + len(vocab[pair[1]])
            if total > MAX_VOCAB_BYTES:  # checked before the bytes are made
                raise ValueError(
                    f"merge {r} {list(pair)!r}: the tokens would hold more than "
                    f"{MAX_VOCAB_BYTES // 2**20} MiB of bytes (a merge of two long tokens "
                    "doubles their length): not a tokenizer of real text"
                )
            rank[pair] = r
            checked.append(pair)
            vocab.append(vocab[pair[0]] + vocab[pair[1]])
        self.merges: list[Pair] = checked
        self.vocab: list[bytes] = vocab
        self._rank = rank
        self._cache: dict[str, list[int]] = {}  # chunk -> its ids (words repeat a lot)

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)  # == 256 + len(self.merges)

    # -- training --

    def train(self, text: str, vocab_size: int, verbose: bool = False) -> BPETokenizer:
        """Learn `vocab_size - 256` merges from `text`, replacing any merges held before.

        Each step merges the most frequent adjacent pair; a tie goes to the smallest pair
        (smaller left id, then smaller right id), so training is deterministic. Pairs are
        counted over the distinct chunks with their counts and updated incrementally after
        each merge (`_learn_merges`; `_learn_merges_naive` is the plain recount, same result).
        Returns self, so `tok = BPETokenizer().train(text, 512)` works. With `verbose`,
        prints each merge. ValueError if the text runs out of pairs before enough merges
        were learned (a text too short for that vocabulary).
        """
        _check_text(text)
        if isinstance(vocab_size, bool) or not isinstance(vocab_size, int):
            raise TypeError(f"vocab_size must be an int, got {type(vocab_size).__name__}")
        if vocab_size < 256:
            raise ValueError(f"vocab_size must be at least 256 (the byte values), got {vocab_size}")
        _utf8(text)  # fail early, naming the position, on a lone surrogate
        num_merges = vocab_size - 256
        chunk_counts = Counter(c.encode("utf-8") for c in pre_tokenize(text, self._regex))
        learned = _learn_merges(chunk_counts, num_merges)
        if len(learned) < num_merges:
            raise ValueError(
                f"the text has no pairs left to merge after {len(learned)} merges: "
                f"it supports vocab_size <= {256 + len(learned)}, asked for {vocab_size}"
            )
        self._set_merges(pair for pair, _ in learned)
        if verbose:
            for r, (pair, count) in enumerate(learned):
                print(
                    f"merge {r + 1}/{num_merges}: {self._show(pair[0])} + {self._show(pair[1])}"
                    f" -> {self._show(256 + r)} (id {256 + r}), {count} occurrences"
                )
        return self

    # -- encoding --

    def encode(self, text: str) -> list[int]:
        """Text -> UTF-8 bytes -> chunks -> merges applied in rank order -> ids."""
        _check_text(text)
        data = _utf8(text)  # ValueError naming a lone surrogate, before any work
        if self._regex is None:
            return self._encode_chunk(data)
        ids: list[int] = []
        cache = self._cache
        for chunk in pre_tokenize(text, self._regex):
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = self._encode_chunk(chunk.encode("utf-8"))
                if len(cache) >= 100_000:
                    cache.clear()  # keep memory bounded on very varied text
                cache[chunk] = chunk_ids
            ids.extend(chunk_ids)
        return ids

    def _encode_chunk_naive(self, data: bytes) -> list[int]:
        """The plain algorithm: merge the lowest-rank pair present, until none applies.

        A merge r creates token 256 + r, which can only appear in merges of higher rank, so
        the ranks applied only go up: this is replaying training's merges in order.
        Cost O(len * merges applied); `_encode_chunk` does the same in O(len log len).
        """
        ids = list(data)
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: self._rank.get(p, len(self._rank)))
            if pair not in self._rank:
                break  # no adjacent pair is a known merge
            ids = merge_pair(ids, pair, 256 + self._rank[pair])
        return ids

    def _encode_chunk(self, data: bytes) -> list[int]:
        """Same result as `_encode_chunk_naive`, with a linked list and a heap.

        The heap holds (rank, position) for every adjacent pair that is a merge; popping
        gives the lowest rank, and among equal ranks the leftmost place, which is exactly
        the order `merge_pair` uses. Entries made stale by an earlier merge are skipped.
        """
        return merge_by_rank(list(data), self._rank, range(256, 256 + len(self._rank)))

    # -- decoding --

    def decode(self, ids: Iterable[int]) -> str:
        """Join the tokens' bytes and decode them as UTF-8, with errors="replace".

        A token may hold part of a multi-byte character (an emoji is 4 bytes, and a merge
        may have taken only 2 of them). Decoding a list that cuts such a character shows
        U+FFFD, the replacement character: decode([0xF0]) == "\\ufffd". The full list from
        `encode` always decodes back to the exact text.
        """
        vocab = self.vocab
        data = b"".join([vocab[i] for i in _check_ids(ids, self.vocab_size)])
        return data.decode("utf-8", errors="replace")

    # -- seeing it work --

    def _show(self, token: int) -> str:
        """A token as text: 'th', ' the', '\\n'; or b'\\xf0\\x9f' if not whole UTF-8."""
        data = self.vocab[token]
        try:
            return repr(data.decode("utf-8"))
        except UnicodeDecodeError:
            return repr(data)

    def explain(self, text: str) -> str:
        """Show every merge as it is applied to each chunk of `text`, as the lesson does.

        >>> tok = BPETokenizer().train("the the the then they", vocab_size=258)
        >>> print(tok.explain("the"))
        chunk 'the': 't' 'h' 'e'
          merge 'h' + 'e' -> 'he' (id 256): 't' 'he'
          merge 't' + 'he' -> 'the' (id 257): 'the'
        3 bytes -> 1 token: [257]
        """
        _check_text(text)
        _utf8(text)
        lines, all_ids = [], []
        for chunk in pre_tokenize(text, self._regex):
            ids = list(chunk.encode("utf-8"))
            lines.append(f"chunk {chunk!r}: " + " ".join(self._show(t) for t in ids))
            while len(ids) >= 2:
                pair = min(zip(ids, ids[1:]), key=lambda p: self._rank.get(p, len(self._rank)))
                if pair not in self._rank:
                    break
                m = 256 + self._rank[pair]
                ids = merge_pair(ids, pair, m)
                lines.append(
                    f"  merge {self._show(pair[0])} + {self._show(pair[1])} -> {self._show(m)}"
                    f" (id {m}): " + " ".join(self._show(t) for t in ids)
                )
            all_ids.extend(ids)
        n_bytes = len(text.encode("utf-8"))
        plural = "" if len(all_ids) == 1 else "s"
        lines.append(f"{n_bytes} bytes -> {len(all_ids)} token{plural}: {all_ids}")
        return "\n".join(lines)

    # -- saving --

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type_name,
            "version": FORMAT_VERSION,
            "pattern": self.pattern,
            "merges": [list(pair) for pair in self.merges],
        }

    @classmethod
    def _from_fields(cls, d: dict[str, Any]) -> BPETokenizer:
        _check_keys(d, {"type", "version", "pattern", "merges"}, required={"pattern", "merges"})
        if not isinstance(d["merges"], list):
            raise ValueError(
                f'"merges" must be a list of [id, id] pairs, got {type(d["merges"]).__name__}'
            )
        pattern = d["pattern"]
        if pattern is not None and not isinstance(pattern, str):
            raise ValueError(f"pattern must be a str or None, got {type(pattern).__name__}")
        if pattern not in KNOWN_PATTERNS:
            # A regular expression can take exponential time on a short text ("(a|aa)+$" on
            # 40 characters: minutes), and Python's `re` cannot be stopped: a file's pattern
            # must be one of ours. (A pattern given in code, BPETokenizer(pattern=...), is
            # the programmer's own.)
            raise ValueError(
                f"pattern {_short(pattern)} is not a split pattern this code knows; a file may "
                f"use GPT2_LIKE_PATTERN or null (no pre-tokenizer)"
            )
        return cls(d["merges"], pattern=pattern)

    def __repr__(self) -> str:
        split = "GPT2_LIKE_PATTERN" if self.pattern == GPT2_LIKE_PATTERN else repr(self.pattern)
        return f"BPETokenizer(vocab_size={self.vocab_size}, pattern={split})"


def _utf8(text: str) -> bytes:
    """UTF-8 bytes of text; ValueError naming a lone surrogate, which UTF-8 cannot hold."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise ValueError(
            f"character {text[e.start]!r} at position {e.start} is a lone surrogate, "
            "which has no UTF-8 bytes (it is half of a UTF-16 pair, not a character)"
        ) from None


# --- 3. GPT-2's own tokenizer ----------------------------------------------------------------
#
# GPT-2's tokenizer is the byte-level BPE above, trained by OpenAI on 40 GB of web text with
# 50,000 merges. Encoding is the same loop: cut the text into chunks, turn each chunk into
# byte tokens, apply the lowest-ranked merge present until none applies. What differs is
# bookkeeping, so that our ids are GPT-2's ids ("Hello world" -> [15496, 995]):
#   * GPT-2 numbers its tokens in its own order. The 256 byte tokens are ids 0..255 but not
#     in byte order ("!" is 0), and the token a merge makes has whatever id the vocabulary
#     file gives it. So we keep the id of each byte, and for merge r the id it produces.
#   * Its files write every token as text, one printable character per byte
#     (`bytes_to_unicode`): the space byte is "Ġ", so " the" is written "Ġthe".
#   * One more token, "<|endoftext|>" (id 50256), is not made by merges: it marks where a
#     document ends in the training data, so a model that emits it means "the text is over".
#     Plain `encode` reads those characters as text, like GPT-2's own encoder.py did; only
#     `encode(text, allowed_special=True)` turns them into the single id 50256.
#   * The pre-tokenizer is GPT-2's pattern exactly (`gpt2_regex`), see below.
#
# The three ways GPT-2's vocabulary is published, all read here (`load_tokenizer`):
#   encoder.json + vocab.bpe      OpenAI's original files: token -> id, and the merges in
#                                 rank order, one "left right" per line after "#version";
#   vocab.json + merges.txt       the same two files under Hugging Face's names;
#   tokenizer.json                Hugging Face's single file: {"model": {"type": "BPE",
#                                 "vocab": {...}, "merges": [...]}, "added_tokens": [...]}.

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

    def _encode_ordinary(self, text: str, naive: bool = False) -> list[int]:
        """Chunks by GPT-2's pattern, each encoded once (cached: words repeat) or naively."""
        ids: list[int] = []
        cache, byte_ids = self._cache, self._byte_ids
        for chunk in gpt2_regex().findall(text):  # the pattern matches every character
            if naive:
                ids += self._encode_word_naive([byte_ids[b] for b in chunk.encode("utf-8")])
                continue
            chunk_ids = cache.get(chunk)
            if chunk_ids is None:
                chunk_ids = self._encode_word([byte_ids[b] for b in chunk.encode("utf-8")])
                if len(cache) >= 100_000:
                    cache.clear()  # keep memory bounded on very varied text
                cache[chunk] = chunk_ids
            ids += chunk_ids
        return ids

    def encode_naive(self, text: str) -> list[int]:
        """`encode` the plain way, the readable twin: no cache, `_encode_word_naive`."""
        _check_text(text)
        _utf8(text)
        return self._encode_ordinary(text, naive=True)

    def _encode_word_naive(self, ids: list[int]) -> list[int]:
        """Merge the lowest-ranked adjacent pair everywhere it occurs, until none is a merge.

        Every step rescans all pairs: O(len) per merge applied, O(len^2) per chunk.
        """
        rank, none = self._rank, len(self._rank)
        while len(ids) >= 2:
            pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, none))
            if pair not in rank:
                break
            ids = merge_pair(ids, pair, self._merged[rank[pair]])
        return ids

    def _encode_word(self, ids: list[int]) -> list[int]:
        """Same result as `_encode_word_naive`, with a linked list and a heap of ranks.

        As in `BPETokenizer._encode_chunk`: the heap holds (rank, position) of every
        adjacent pair that is a merge; the lowest rank comes out first, and among equal
        ranks the leftmost place, the order `merge_pair` uses. A merge only changes the two
        pairs around it, so only those two are pushed; entries gone stale are skipped.
        O(len log len) per chunk.
        """
        return merge_by_rank(ids, self._rank, self._merged)

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
        folder = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "gpt2")
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


# What `load_tokenizer` accepts: a file of ours or Hugging Face's, or a folder holding one of:
TOKENIZER_FILE_SETS = (
    ("tokenizer.json",),  # ours ("type": "char"/"bpe"/"gpt2") or Hugging Face's BPE kind
    ("vocab.json", "merges.txt"),  # GPT-2 as Hugging Face writes it
    ("encoder.json", "vocab.bpe"),  # GPT-2 as OpenAI published it
)
ACCEPTED = (
    'our tokenizer file ({"type": "char" | "bpe" | "gpt2", ...}), a Hugging Face '
    "tokenizer.json of the BPE kind, vocab.json + merges.txt, or encoder.json + vocab.bpe"
)


def load_tokenizer(path: str | os.PathLike) -> Tokenizer:
    """Load a tokenizer from a file or a checkpoint folder, whichever format it is in.

    A folder: the first of tokenizer.json / vocab.json + merges.txt / encoder.json +
    vocab.bpe that it holds; of a train-gpt run folder, its published checkpoint's (the
    one GPT.from_pretrained reads, whatever a kill left at the top level). A .json file:
    ours (a "type" field), or Hugging Face's (a "model" field). encoder.json or
    vocab.json: with its merges file beside it.

    A folder's tokenizer must have as many tokens as its model (config.json's
    "vocab_size"): with fewer, a token the model emits would have no text; with more,
    a prompt could give ids the model has no row for.
    """
    path = os.fspath(path)
    if os.path.isdir(path):
        from .checkpoint import resolve_model_folder

        path = resolve_model_folder(path)  # a training run's folder: its published checkpoint
        for names in TOKENIZER_FILE_SETS:
            files = [os.path.join(path, name) for name in names]
            if all(os.path.isfile(f) for f in files):
                tok = load_tokenizer(files[0])
                _check_fits_model(tok, files[0], os.path.join(path, "config.json"))
                return tok
        raise FileNotFoundError(f"folder {path!r} holds no tokenizer; accepted: {ACCEPTED}")
    folder, name = os.path.split(path)
    for vocab_name, merges_name in TOKENIZER_FILE_SETS[1:]:
        if name in (vocab_name, merges_name):
            return GPT2Tokenizer.from_files(
                os.path.join(folder, vocab_name), os.path.join(folder, merges_name)
            )
    return Tokenizer.load(path)


def _check_fits_model(tok: Tokenizer, tokenizer_path: str, config_path: str) -> None:
    """ValueError unless the model beside the tokenizer has its vocabulary size (a folder
    without a readable config.json is left to the model loader to refuse)."""
    try:
        config = _read_json(config_path)
    except (OSError, ValueError):
        return
    model_vocab = config.get("vocab_size") if isinstance(config, dict) else None
    if isinstance(model_vocab, int) and not isinstance(model_vocab, bool):
        if model_vocab != tok.vocab_size:
            raise ValueError(
                f"{tokenizer_path!r} has {tok.vocab_size} tokens, the model in "
                f"{config_path!r} {model_vocab}: they do not belong together"
            )


_TOKENIZER_TYPES: dict[str, type] = {
    "char": CharTokenizer,
    "bpe": BPETokenizer,
    "gpt2": GPT2Tokenizer,
}
