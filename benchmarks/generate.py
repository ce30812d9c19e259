"""Generation with a KV cache: ours vs Hugging Face transformers, tokens per second.

    python benchmarks/generate.py           # 4x128 and GPT-2 small (12x768), 240 tokens
    python benchmarks/generate.py --quick   # 4x128 only, fewer tokens (CI)

Both models are GPT-2-shaped with random weights (vocab 512, 256 positions), written
by transformers (`save_pretrained`) and read by ours (`GPT.from_pretrained`), so both
hold the same numbers. Greedy decoding from the same prompt: the tokens must be
identical. Ours and transformers take turns (one whole generation each per round).

The memory floor: each new token reads every weight once, so a token cannot take less
than (bytes of weights) / (memory bandwidth); the bandwidth is a plain copy measured
in the same run.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import _harness as H  # noqa: E402

H.reexec_clean()
# transformers imports an optional package named `kernels`: benchmarks/kernels.py (this
# folder is on sys.path as the script's own) must not stand in for it
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != HERE]

import tinygrad_edu as tg  # noqa: E402
from tinygrad_edu.models.gpt import GPT  # noqa: E402


def copy_bandwidth(nbytes: int = 256 << 20) -> float:
    """Bytes per second of a large array copy (read + write counted as 2 x nbytes)."""
    a = np.ones(nbytes // 4, np.float32)
    b = np.empty_like(a)
    best = float("inf")
    for _ in range(5):
        t0 = time.perf_counter()
        np.copyto(b, a)
        best = min(best, time.perf_counter() - t0)
    return 2 * nbytes / best


def run(torch, transformers, n_layer: int, n_embd: int, n_head: int, new_tokens: int,
        rounds: int, bandwidth: float) -> list:  # fmt: skip
    cfg = transformers.GPT2Config(
        vocab_size=512,
        n_positions=256,
        n_embd=n_embd,
        n_layer=n_layer,
        n_head=n_head,
        bos_token_id=0,
        eos_token_id=None,
    )
    torch.manual_seed(0)
    hf = transformers.GPT2LMHeadModel(cfg).eval()
    with tempfile.TemporaryDirectory() as folder:
        hf.save_pretrained(folder)
        ours = GPT.from_pretrained(folder)
    ours.eval()
    prompt = np.random.default_rng(0).integers(0, 512, size=(1, 8))
    tprompt = torch.tensor(prompt)

    def ours_gen(cache=True):
        return ours.generate(prompt, new_tokens, temperature=0, use_cache=cache)

    def hf_gen():
        with torch.no_grad():
            return hf.generate(tprompt, max_new_tokens=new_tokens, do_sample=False,
                               use_cache=True, pad_token_id=0, attention_mask=torch.ones_like(tprompt))  # fmt: skip

    same = np.array_equal(ours_gen()[0], hf_gen()[0].numpy())
    t_ours, t_hf, ratio = H.time_interleaved(ours_gen, hf_gen, steps=1, rounds=rounds)
    t_cache, t_recompute, cache_ratio = H.time_interleaved(
        ours_gen, lambda: ours_gen(cache=False), steps=1, rounds=max(2, rounds // 2)
    )
    n_params = sum(p.data.size for p in ours.parameters())
    floor = 4 * n_params / bandwidth  # seconds per token if only the weights' bytes counted
    return [
        f"{n_layer}x{n_embd}", "yes" if same else "NO", new_tokens / t_ours, new_tokens / t_hf,
        ratio, cache_ratio, t_ours / new_tokens * 1e3, floor * 1e3,
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    torch = H.torch_or_none()
    try:
        import transformers
    except ImportError:
        transformers = None
    if torch is None or transformers is None:
        print("needs torch==2.13.0 and transformers: nothing to compare with")
        return
    bw = copy_bandwidth()
    print(f"tinygrad_edu {tg.info()['backend']}, {tg.get_num_threads()} threads; torch "
          f"{torch.__version__}, transformers {transformers.__version__}; copy {bw / 1e9:.1f} GB/s")  # fmt: skip
    sizes = [(4, 128, 4)] if args.quick else [(4, 128, 4), (12, 768, 12)]
    tokens = 60 if args.quick else 240
    rounds = 3 if args.quick else 5
    rows = [run(torch, transformers, *s, tokens, rounds, bw) for s in sizes]
    H.print_table(
        f"greedy generation, {tokens} new tokens, batch 1 (speed ratios: above 1 we are faster)",
        ["model", "same tokens", "ours tok/s", "HF tok/s", "vs HF", "cache vs recompute",
         "ms/token", "floor ms/token"],
        rows,
    )  # fmt: skip


if __name__ == "__main__":
    main()
