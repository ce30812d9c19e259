"""GPT-2's tokenizer: encoding tiny Shakespeare, ours vs tiktoken (Rust) vs the plain loop.

    flock /tmp/tinygrad_edu.lock python benchmarks/tokenizer.py            # the whole corpus
    flock /tmp/tinygrad_edu.lock python benchmarks/tokenizer.py --quick    # 100k characters

Rows (all give the same ids, checked before timing):
  tiktoken          OpenAI's tokenizer, Rust, one thread (`encode_ordinary`), GPT-2's files
  ours              GPT2Tokenizer.encode: stdlib `re` split, per-chunk cache, heap merge loop
  ours, no cache    the heap merge loop on every chunk, even repeated ones
  ours, naive       GPT2Tokenizer.encode_naive: no cache, rescan all pairs per merge
  split only        gpt2_regex().findall: the pre-tokenizer's share of the time
The cache starts empty on every call (a cold start: tiny Shakespeare's words repeat, so
the cache fills while it runs). "x ours" is how many times faster than `ours` (> 1: faster).
"""

from __future__ import annotations

import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import _harness as H  # noqa: E402

from tinygrad_edu.data.shakespeare import load_shakespeare  # noqa: E402
from tinygrad_edu.tokenizer import ENDOFTEXT, GPT2_PATTERN, GPT2Tokenizer, gpt2_regex  # noqa: E402


def tiktoken_gpt2(tok: GPT2Tokenizer):
    """tiktoken's GPT-2 encoding built from our (identical) files: no download. None if absent."""
    try:
        import tiktoken
    except ImportError:
        return None
    ranks = {tok.vocab[i]: i for i in range(tok.vocab_size) if i != tok.eot_id}
    return tiktoken.Encoding(
        "gpt2-local",
        pat_str=GPT2_PATTERN,
        mergeable_ranks=ranks,
        special_tokens={ENDOFTEXT: tok.eot_id},
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the first 100,000 characters only")
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    repeats = 1 if args.quick else args.repeats
    text = load_shakespeare()
    if args.quick:
        text = text[:100_000]
    tok = GPT2Tokenizer.from_bundled()
    enc = tiktoken_gpt2(tok)

    def ours():
        tok._cache.clear()
        return tok.encode(text)

    def ours_no_cache():
        byte_ids, ids = tok._byte_ids, []
        for chunk in gpt2_regex().findall(text):
            ids += tok._encode_word([byte_ids[b] for b in chunk.encode("utf-8")])
        return ids

    runs = {
        "ours": ours,
        "ours, no cache": ours_no_cache,
        "ours, naive": lambda: tok.encode_naive(text),
        "split only": lambda: gpt2_regex().findall(text),
    }
    if enc is not None:
        runs = {"tiktoken": lambda: enc.encode_ordinary(text), **runs}
    ids = ours()
    for name in ("tiktoken", "ours, no cache", "ours, naive"):
        if name in runs and runs[name]() != ids:
            raise SystemExit(f"{name} gives different ids from ours: not timing")

    n_bytes = len(text.encode("utf-8"))
    seconds = {name: H.timeit(fn, min_time=0.0, repeats=repeats) for name, fn in runs.items()}
    rows = [
        [name, f"{s * 1e3:.1f}", f"{n_bytes / s / 1e6:.2f}", f"{len(ids) / s / 1e3:.0f}",
         f"{seconds['ours'] / s:.2f}"]
        for name, s in seconds.items()
    ]  # fmt: skip
    title = f"encode {len(text):,} characters ({n_bytes:,} bytes) -> {len(ids):,} GPT-2 tokens"
    if enc is None:
        title += "  (tiktoken not installed: pip install tiktoken)"
    H.print_table(title, ["", "ms", "MB/s", "k tokens/s", "x ours"], rows)


if __name__ == "__main__":
    main()
