"""Memory stays flat over many training steps: the graph and its saved arrays are freed."""

from __future__ import annotations

import gc
import os
import sys

import numpy as np
import pytest

import tinygrad_edu as tg
from tinygrad_edu.nn import functional as F


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/statm")
def test_rss_is_flat_over_10000_training_steps():
    tg.manual_seed(0)
    r = np.random.default_rng(0)
    emb = tg.Tensor(r.standard_normal((50, 32)).astype(np.float32), requires_grad=True)
    w1 = tg.Tensor(r.standard_normal((64, 32)).astype(np.float32) * 0.1, requires_grad=True)
    b1 = tg.Tensor(np.zeros(64, np.float32), requires_grad=True)
    ln_w = tg.Tensor(np.ones(64, np.float32), requires_grad=True)
    w2 = tg.Tensor(r.standard_normal((10, 64)).astype(np.float32) * 0.1, requires_grad=True)
    params = [emb, w1, b1, ln_w, w2]

    def step() -> float:
        ids = r.integers(0, 50, size=(16, 8))
        x = F.embedding(ids, emb)  # (16, 8, 32)
        h = F.gelu(F.layer_norm(F.linear(x, w1, b1), 64, ln_w))  # (16, 8, 64)
        att = F.scaled_dot_product_attention(*(h.reshape(16, 1, 8, 64),) * 3, is_causal=True)
        logits = F.linear(att.reshape(128, 64), w2)  # (128, 10)
        loss = F.cross_entropy(logits, ids.reshape(-1) % 10)
        loss.backward()
        with tg.no_grad():
            for p in params:
                p.data -= 0.01 * p.grad.data
                p.grad = None
        return loss.item()

    for _ in range(500):  # warm up: allocator pools, caches, lazily created objects
        step()
    gc.collect()
    before = _rss_bytes()
    losses = [step() for _ in range(10_000)]
    gc.collect()
    grown = _rss_bytes() - before
    assert np.isfinite(losses).all()
    assert grown < 8 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB over 10,000 steps"
