"""Exercise `bpe_merge_step` -- lesson 5, tutorials/05_next_token.py

Idea: byte pair encoding starts from the 256 byte values and repeatedly merges the
most frequent pair of neighbouring tokens into a new token: "t" "h" -> "th", then
"th" "e" -> "the". Each merge adds one token to the vocabulary and shortens the text.

Math: count every pair (ids[i], ids[i+1]); pick the most frequent, and among equally
frequent pairs the smallest (compare left ids, then right ids); then replace each
occurrence of it, scanning left to right, by new_id.

Shapes: ids a list of ints, new_id an int; returns (pair, new_ids): pair a tuple
(left, right), new_ids a list of ints. If ids has no pair at all: (None, ids).

Hint: min(counts, key=lambda p: (-counts[p], p)) picks the most frequent, then the
smallest. In [97, 97, 97] the pair (97, 97) merges once, at the left: [new_id, 97].

Answer: `merge_pair` and `_learn_merges_naive` in tinygrad_edu/tokenizer/bpe.py (read
them after trying).
Check: tinygrad-edu exercises check . bpe_merge_step   (from this folder)
"""

from __future__ import annotations

from collections import Counter


def bpe_merge_step(ids: list, new_id: int) -> tuple:
    """(the pair merged, ids with every occurrence of it replaced by new_id)."""
    raise NotImplementedError
