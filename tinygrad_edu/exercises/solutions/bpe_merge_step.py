from __future__ import annotations

from collections import Counter


def bpe_merge_step(ids: list, new_id: int) -> tuple:
    """(the pair merged, ids with every occurrence of it replaced by new_id)."""
    counts = Counter(zip(ids, ids[1:]))
    if not counts:
        return None, list(ids)
    pair = min(counts, key=lambda p: (-counts[p], p))  # most frequent, then smallest
    out, i = [], 0
    while i < len(ids):
        if i + 1 < len(ids) and (ids[i], ids[i + 1]) == pair:
            out.append(new_id)
            i += 2
        else:
            out.append(ids[i])
            i += 1
    return pair, out
