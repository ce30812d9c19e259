"""Byte-level Byte Pair Encoding, the idea behind GPT-2's tokenizer (lecture 5).

- *Why bytes.* Every string is a sequence of UTF-8 bytes, and there are only 256 byte
  values. Starting from those 256 tokens, every string is representable: emoji, Chinese,
  a NUL character. There is no "unknown token".
- *Why merge frequent pairs.* Bytes alone make long sequences ("the" is 3 tokens).
  Training repeatedly finds the most frequent adjacent pair of tokens and makes it a new
  token: "t" "h" -> "th", then "th" "e" -> "the". Each merge adds one token to the
  vocabulary and shortens the encoded text. Shorter sequences mean more text fits in the
  model's context window, and the cost of attention grows with the *square* of the
  context length (lecture 7), so every token saved is worth a lot.
- The trade-off: a bigger vocabulary means bigger embedding and unembedding matrices and
  rarer tokens, each seen less often during training.

Invariants of a BPE tokenizer with merges `m_0, m_1, ...`:
- ids 0..255 are the raw byte values; id `256 + r` is merge `r` = the pair `(a, b)` with
  `a, b < 256 + r` (a merge only combines tokens that already exist), and its bytes are
  `bytes(a) + bytes(b)`. So `vocab_size == 256 + len(merges)`.
- Encoding applies merges in rank order (merge 0 first), exactly as training did, so
  encoding the training text reproduces the tokens training ended with.

Encoding, the plain way and the fast way side by side: `merge_naive` merges the
lowest-ranked pair present until none is left; `merge_by_rank` gives the same ids with a
linked list and a heap. GPT-2's tokenizer (gpt2.py) encodes with these two as well.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter
from typing import Any, Callable, Iterable, Sequence

from .base import (
    FORMAT_VERSION,
    MAX_VOCAB_BYTES,
    Pair,
    Tokenizer,
    _check_ids,
    _check_keys,
    _check_text,
    _short,
    _utf8,
)

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


# Encoding replays training's merges in rank order. A merge r makes a token that only
# merges of higher rank can use, so the ranks applied only go up. Below, `rank` maps a
# pair of ids to its merge rank r, and `merged[r]` is the id the pair becomes: 256 + r for
# ours, whatever GPT-2's vocabulary file says for its (gpt2.py uses these functions too).


def lowest_merge(ids: Sequence[int], rank: dict) -> Pair | None:
    """The adjacent pair of `ids` with the lowest merge rank; None if no pair is a merge."""
    if len(ids) < 2:
        return None
    pair = min(zip(ids, ids[1:]), key=lambda p: rank.get(p, len(rank)))
    return pair if pair in rank else None


def merge_naive(ids: Sequence[int], rank: dict, merged: Sequence[int]) -> list[int]:
    """The plain algorithm: merge the lowest-ranked pair everywhere it occurs, until no
    adjacent pair is a merge. O(len) per merge applied; `merge_by_rank` is the fast twin."""
    ids = list(ids)
    while (pair := lowest_merge(ids, rank)) is not None:
        ids = merge_pair(ids, pair, merged[rank[pair]])
    return ids


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


def encode_chunks(
    chunks: Iterable[str], encode_chunk: Callable[[bytes], list[int]], cache: dict
) -> list[int]:
    """The ids of every chunk, one after the other, each distinct chunk encoded once.

    Words repeat a lot in text, so `cache` keeps chunk -> its ids (emptied when it holds
    100,000 chunks: memory stays bounded on very varied text)."""
    ids: list[int] = []
    for chunk in chunks:
        chunk_ids = cache.get(chunk)
        if chunk_ids is None:
            chunk_ids = encode_chunk(chunk.encode("utf-8"))
            if len(cache) >= 100_000:
                cache.clear()
            cache[chunk] = chunk_ids
        ids += chunk_ids
    return ids


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
        self._merged = range(256, 256 + len(checked))  # rank r -> the id it makes, 256 + r
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
        return encode_chunks(pre_tokenize(text, self._regex), self._encode_chunk, self._cache)

    def _encode_chunk(self, data: bytes) -> list[int]:
        """One chunk's bytes -> its ids: `merge_by_rank` (`merge_naive` gives the same)."""
        return merge_by_rank(list(data), self._rank, self._merged)

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
            while (pair := lowest_merge(ids, self._rank)) is not None:  # merge_naive, shown
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
